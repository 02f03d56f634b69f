"""Writes onto a board's lwIP stack: a segment at a time, shared fairly, never holding the VM.

lwIP keeps every socket's unacknowledged bytes in one heap smaller than two sockets' send
buffers (8000 bytes on most boards), and a write that finds it full holds the whole VM in
modlwip's retry loop (50 ms a try). So on lwIP the Link writes every connection's bytes
itself: one segment (TCP_MSS) at a time, round-robin among the connections with bytes
waiting, under one byte rate for them all. A write that took SLOW_MS or more waited in that
loop: the stack was full, and the rate drops by a fifth. While the rate is what limits the
writes it climbs back, quickly to just under what the sockets carried at the last overflow,
then, after HOLD_MS, slowly past it.

modlwip shows no acknowledgements: a socket's queue is seen only when it is full (a write
takes less than a segment), holding its whole send buffer. Where one send buffer is more than
half of lwIP's heap (8000 bytes, 6400 a socket), that starves every other socket, so a full
socket is dropped at once while others wait (`drop`: its socket reset, which frees what it
held); elsewhere it is dropped when it has taken nothing for STUCK_MS while others wait.
"""
import asyncio
import time

SLOW_MS = 20  # a write this long waited for lwIP's memory (one wait is 50 ms)
STUCK_MS = 1000  # a socket that took nothing this long, while others wait, is dropped
ADAPT_MS = 100  # the rate is raised at most this often
PAUSE_MS = 2  # between rounds while every waiting socket is full
HOLD_MS = 4000  # after an overflow, the rate stays under it this long before probing past


class Link:
    """The one writer of every TCP connection's bytes on an lwIP stack (see the module)."""

    def __init__(self, limits, drop):
        self.piece = limits.mss
        self.burst = max(2 * limits.mss, limits.heap // 8)  # and the most a millisecond
        self.floor = limits.heap // 100  # bytes a millisecond: 80 KB/s on the smallest stack
        self.full_starves = 2 * limits.sndbuf > limits.heap
        self.rate = limits.heap // 20
        self.ceiling = 0  # what the link carried at the last overflow
        self.sent = 0
        self.carried = 0  # bytes a millisecond the sockets took, in the last two windows
        self.tokens = self.burst
        self.drop = drop  # drop(writer): end a stuck connection
        self.jobs = []  # SocketWriters with bytes waiting, in turn
        self.turn = 0
        self.work = asyncio.Event()
        self.cut_at = time.ticks_ms()
        self.limited = False  # the rate held back bytes since the last raise
        self.overflows = 0  # writes that waited for lwIP's memory
        self.overflow_ms = 0  # and how long they held the VM
        self.stuck = 0  # connections dropped for taking nothing

    async def write(self, out, buf):
        """Write all of `buf` to `out`'s socket in turn with the others; raises the socket's
        error."""
        out.rest = memoryview(buf)
        out.failure = None
        out.done.clear()  # the waiter clears, the round sets: no wake-up is lost
        self.jobs.append(out)
        self.work.set()
        try:
            await out.done.wait()
        finally:
            if out in self.jobs:
                self.jobs.remove(out)
            out.rest = None
        if out.failure is not None:
            raise out.failure

    async def run(self):
        last = adapted = time.ticks_ms()
        mark = window = 0
        while True:
            if not self.jobs:
                self.work.clear()
                await self.work.wait()
                last = time.ticks_ms()
            now = time.ticks_ms()
            self.tokens = min(self.burst, self.tokens + self.rate * time.ticks_diff(now, last))
            last = now
            if time.ticks_diff(now, adapted) >= ADAPT_MS:
                carried = (self.sent - mark) // time.ticks_diff(now, adapted)
                self.carried, window = max(carried, window), carried
                adapted, mark = now, self.sent
                if self.limited:
                    self._raise()
                self.limited = False
            self._round(now)
            if self.tokens <= 0:
                self.limited = self.limited or bool(self.jobs)
                await asyncio.sleep_ms(1 - self.tokens // self.rate)
            else:
                await asyncio.sleep_ms(PAUSE_MS if self.jobs else 0)

    def _round(self, now):
        """Write one segment to each waiting connection in turn while the rate allows."""
        jobs = self.jobs
        idle = 0  # connections in a row whose socket took nothing
        while jobs and self.tokens > 0 and idle < len(jobs):
            self.turn %= len(jobs)
            out = jobs[self.turn]
            taken = self._write(out, now)
            if out.done.is_set():
                jobs.pop(self.turn)
            elif taken == self.piece:
                self.turn += 1
            elif len(jobs) > 1 and (self.full_starves or
                                    time.ticks_diff(now, out.blocked_since) > STUCK_MS):
                jobs.pop(self.turn)  # it holds lwIP's memory that the others wait for
                self.stuck += 1
                self.drop(out)
            else:
                self.turn += 1
            idle = 0 if taken else idle + 1

    def _write(self, out, now):
        rest = out.rest
        n = min(self.piece, len(rest))
        began = time.ticks_ms()
        try:
            taken = out.sock.write(rest[:n] if n < len(rest) else rest) or 0
        except Exception as exc:  # this connection's fault alone: raised in its own task
            out.failure = exc
            out.done.set()
            return 0
        took = time.ticks_diff(time.ticks_ms(), began)
        if took >= SLOW_MS:
            self._overflow(took)
        self.tokens -= taken
        self.sent += taken
        if taken:
            out.rest = rest[taken:]
            if taken == len(rest):
                out.done.set()
                return self.piece
        if taken < n and out.blocked_since is None:
            out.blocked_since = now  # the socket is full
        elif taken == n:
            out.blocked_since = None
        return taken

    def _overflow(self, took):
        """A write waited for lwIP's memory: the rate drops, once an episode."""
        self.overflows += 1
        self.overflow_ms += took
        now = time.ticks_ms()
        if time.ticks_diff(now, self.cut_at) > ADAPT_MS:
            self.cut_at = now
            self.ceiling = min(self.rate, self.carried or self.rate)
            self.rate = max(self.floor, self.ceiling * 4 // 5)

    def _raise(self):
        """Back to just under the rate that overflowed, quickly; held there for HOLD_MS;
        then past it, slowly. Before any overflow, a quarter more each time."""
        below = self.ceiling * 19 // 20
        if not self.ceiling:
            self.rate += self.rate // 4
        elif self.rate < below:
            self.rate += max(1, (below - self.rate) // 2)
        elif time.ticks_diff(time.ticks_ms(), self.cut_at) > HOLD_MS:
            self.rate += max(1, self.ceiling // 50)
        self.rate = min(self.rate, self.burst)

    def stats(self):
        return {"rate_kbps": self.rate * 1000 // 1024, "overflows": self.overflows,
                "overflow_ms": self.overflow_ms, "stuck_dropped": self.stuck}
