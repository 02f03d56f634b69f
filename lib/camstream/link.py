"""Writes onto a board's lwIP stack: a connection at a time, a segment at a time, at a rate
that adapts, never holding the VM.

lwIP keeps every socket's unacknowledged bytes in one small heap (8000 bytes on most boards,
6400 a socket; N6 64 KB, 23 KB a socket), and a write that finds it full holds the whole VM in
modlwip's retry loop (50 ms a try, up to 10 s). modlwip shows no acknowledgements, and one
socket's full send buffer takes nearly all of the 8000 bytes, so a write to any other socket
could find no room. So on lwIP the Link writes every connection's bytes itself, and before
each segment it asks lwIP whether its heap has room for one (`room_probe`): while it has not,
the Link waits, and the rest of the program runs.

The connections take turns: the first waiting one is written, a segment (TCP_MSS) at a time,
until all its bytes are taken (in a write of several buffers, an RTSP frame's packets, one
buffer's: then the next one waiting has its turn), while the others wait; one whose socket
takes nothing for STUCK_MS while others wait is dropped (`drop`: its socket reset, which frees
what it held). A client can also stop reading after its bytes were taken, and its socket's
queue then holds the heap: once the heap has had no room for RESCUE_MS, or a write has waited
that long in modlwip (where no probe could be made), the socket that holds it is reset
(`rescue`): the one being written, when it has already been written this turn (its own queue
fills the heap), else the turn before. One byte rate bounds all the writes: a write that took
SLOW_MS or more waited for lwIP's memory, and the rate drops by a fifth; while the rate is
what holds the writes back it climbs back, quickly to just under what the sockets carried at
the last overflow, then, after HOLD_MS, slowly past it.
"""
import asyncio
import errno
import socket
import time
from asyncio import core  # MicroPython's scheduler: its I/O queue, as Stream.read uses it

SLOW_MS = 20  # a write this long waited for lwIP's memory (one wait is 50 ms)
STUCK_MS = 1000  # a socket that took no whole segment this long, while others wait: dropped
ADAPT_MS = 100  # the rate is raised at most this often
PAUSE_MS = 2  # between rounds while the first waiting socket, or lwIP's heap, is full
HOLD_MS = 4000  # after an overflow, the rate stays under it this long before probing past
RESCUE_MS = 500  # no room this long, or a write held this long in modlwip: the holder is reset
PROBE_PROTOCOL = 253  # an IP protocol number for experiments (RFC 3692): none arrives for it
SEGMENT_COST = 96  # lwIP's heap bytes beside a segment's data, at most: pbuf, headers, record
PROBED = 4  # segments one probe looks for room for (else one); all but one are written, the
# last left for lwIP's own packets (handshakes, acknowledgements) between the probe and them
SPARE = 3 * SEGMENT_COST  # left beside a lone segment for them (a handshake's answer)


def room_probe(piece):
    """room(n): whether lwIP's heap has room for `n` segments of `piece` bytes (for one, and
    SPARE bytes), a test that keeps none of it and sends nothing. It is an IP packet of their
    size to 127.0.0.1 from a raw socket, which lwIP allocates as it does a segment, then finds
    no route for (EHOSTUNREACH), or finds no memory for (ENOMEM). None where the port has no
    raw sockets (alif), or none is left."""
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, PROBE_PROTOCOL)
    except (AttributeError, OSError):
        return None
    packet = memoryview(bytearray((piece + SEGMENT_COST) * PROBED - SEGMENT_COST))
    packets = {PROBED: packet, 1: packet[:piece + SPARE]}
    nowhere = ("127.0.0.1", 0)

    def room(n):
        try:
            sock.sendto(packets[n], nowhere)
        except OSError as exc:
            return exc.errno != errno.ENOMEM
        return True

    return room


class Link:
    """The one writer of every TCP connection's bytes on an lwIP stack (see the module)."""

    def __init__(self, limits, drop):
        self.piece = limits.mss
        self.burst = max(2 * limits.mss, limits.heap // 8)  # and the most a millisecond
        self.floor = limits.heap // 100  # bytes a millisecond: 80 KB/s on the smallest stack
        self.rate = limits.heap // 20
        self.ceiling = 0  # what the link carried at the last overflow
        self.sent = 0
        self.carried = 0  # bytes a millisecond the sockets took, in the last two windows
        self.tokens = self.burst
        self.drop = drop  # drop(writer): end a stuck connection
        self.jobs = []  # SocketWriters with bytes waiting, in turn
        self.work = asyncio.Event()
        self.cut_at = time.ticks_ms()
        self.limited = False  # the rate held back bytes since the last raise
        self.overflows = 0  # writes that waited for lwIP's memory
        self.overflow_ms = 0  # and how long they held the VM
        self.stuck = 0  # connections dropped for taking nothing
        self.rescued = 0  # connections reset while a write waited in modlwip
        self.writing = None  # the connection being written, and since when
        self.began = 0
        self.previous = None  # the connection whose turn came before
        self.turn_of = None  # the connection whose turn it is, and what it has been written
        self.turn_sent = 0
        self.room = room_probe(limits.mss)
        self.credit = 0  # segments lwIP's heap had room for at the last probe, not yet written
        self.no_room = 0  # rounds that found lwIP's heap without room for a segment
        self.no_room_since = None

    async def write(self, out, buf, more=None):
        """Write all of `buf` to `out`'s socket in turn with the others, then each buffer the
        iterator `more` gives (memoryviews), in the same turn, each asked for once the one
        before is all taken; raises the socket's error."""
        self.queue(out, buf, more)
        try:
            await out.done.wait()
        finally:
            if out in self.jobs:
                self.jobs.remove(out)
            out.rest = out.more = None
        if out.failure is not None:
            raise out.failure

    def queue(self, out, buf, more=None):
        """`out`'s job, in turn after the others: its rounds write it, then set `out.done`."""
        out.rest, out.at = memoryview(buf), 0
        out.more = more
        out.failure = None
        out.done.clear()  # the waiter clears, the round sets: no wake-up is lost
        self.jobs.append(out)
        self.work.set()

    async def run(self):
        from .health import periodic
        periodic(RESCUE_MS // 4, self.rescue)
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
            self.credit = 0
            if self.tokens <= 0:
                self.limited = self.limited or bool(self.jobs)
                await asyncio.sleep_ms(1 - self.tokens // self.rate)
            else:
                await asyncio.sleep_ms(PAUSE_MS if self.jobs else 0)

    def _round(self, now):
        """Write the first waiting connection while the rate allows; the others wait."""
        jobs = self.jobs
        while jobs and self.tokens > 0:
            out = jobs[0]
            if out is not self.turn_of:
                self.turn_of, self.turn_sent = out, 0
            if self._write(out, now):
                if not out.at and len(jobs) > 1:  # between two of its buffers: its turn ends
                    self.previous = jobs.pop(0)
                    jobs.append(out)
                continue
            if out.done.is_set():  # all taken, or failed
                self.previous = jobs.pop(0)
            elif out.blocked_since is not None and len(jobs) > 1 and \
                    time.ticks_diff(now, out.blocked_since) > STUCK_MS:
                jobs.pop(0)  # it holds lwIP's memory that the others wait for
                self.stuck += 1
                self.drop(out)
            else:
                return  # its socket is full, or lwIP's heap: the others wait

    def _write(self, out, now):
        """Write a segment of `out`'s bytes, if lwIP has room for it: True when its socket
        took all of it and more bytes wait. A segment costs one slice of the buffer, no more:
        a board's small heap collects garbage often."""
        if not self._has_room(now):
            return False
        rest, at = out.rest, out.at
        n = min(self.piece, len(rest) - at)
        self.writing, self.began = out, time.ticks_ms()
        try:
            taken = out.sock.write(rest if n == len(rest) else rest[at:at + n]) or 0
        except Exception as exc:  # this connection's fault alone: raised in its own task
            out.failure = exc
            out.done.set()
            return False
        finally:
            self.writing = None
        took = time.ticks_diff(time.ticks_ms(), self.began)
        if took >= SLOW_MS:
            self._overflow(took)
        self.tokens -= taken
        self.sent += taken
        self.turn_sent += taken
        out.at = at = at + taken
        if at == len(rest):
            out.blocked_since = None
            following = out.more and next(out.more, None)
            if following is None:
                out.done.set()
                return False
            out.rest, out.at = following, 0
            return True
        if taken == n:
            out.blocked_since = None
            return True
        if out.blocked_since is None:
            out.blocked_since = now  # the socket is full
        return False

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

    def _has_room(self, now):
        """Whether lwIP's heap has room for a segment and SPARE bytes (always, without a
        probe), probed for PROBED at once while it has; a probe's answer holds for the round
        it was made in. After RESCUE_MS without, the connection holding it is reset."""
        if self.room is None:
            return True
        if not self.credit:
            self.credit = PROBED - 1 if self.room(PROBED) else 1 if self.room(1) else 0
        if self.credit:
            self.credit -= 1
            self.no_room_since = None
            return True
        self.no_room += 1
        if self.no_room_since is None:
            self.no_room_since = now
        elif time.ticks_diff(now, self.no_room_since) >= RESCUE_MS:
            self.no_room_since = now
            self._reset_holder(self.turn_of)
        return False

    def rescue(self, timer):
        """From the timer: while a write has waited RESCUE_MS in modlwip for lwIP's memory,
        which a reading client's acknowledgements would have freed by then, reset the socket
        that holds it. A reset socket's write fails (modlwip's wait ends with an error), which
        ends its connection."""
        writing = self.writing
        if writing is not None and time.ticks_diff(time.ticks_ms(), self.began) >= RESCUE_MS:
            self._reset_holder(writing)

    def _reset_holder(self, current):
        """Reset the connection that holds lwIP's memory: `current`, when it has been written
        this turn, else the one whose turn came before (see the module)."""
        stuck = current if self.turn_sent else self.previous
        if stuck is None:
            return
        self.previous = None
        stuck.sock.close()  # the request's last byte unread: a reset, freeing its memory
        self.rescued += 1

    def stats(self):
        return {"rate_kbps": self.rate * 1000 // 1024, "overflows": self.overflows,
                "overflow_ms": self.overflow_ms, "stuck_dropped": self.stuck,
                "rescued": self.rescued, "no_room": self.no_room}


class Holding:
    """For server.HeadReader on lwIP: a GET request's last byte is left unread in the socket
    until the connection ends. Closed with it unread, the socket is reset at once, which is
    how a dropped connection frees what it holds in lwIP's memory (a close can leave it held
    for seconds, and modlwip has no SO_LINGER); any other close reads it first (`release`),
    and ends cleanly."""

    held = 0

    def _read(self):
        sock = self.stream.s
        yield core._io_queue.queue_read(sock)
        data = sock.recv(512 + self.held, socket.MSG_PEEK)[self.held:]
        hold = 1 if data.endswith(b"\n\r\n") or data.endswith(b"\n\n") else 0
        if len(data) + self.held - hold:
            sock.recv(len(data) + self.held - hold)
        self.held = hold
        return data

    def release(self):
        if self.held:
            held, self.held = self.held, 0
            try:
                self.stream.s.recv(held)
            except OSError:
                self.failed()
                raise
