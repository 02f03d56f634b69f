"""Viewers: one `FrameStream` per connected client, counted against a cap; snapshots too."""
import asyncio
import time

from .hub import OPENING


class Holder:
    """A long response (stream, snapshot, event stream), registered with Viewers until it is
    closed; while it writes a frame from the hub's pool, it holds that frame's buffer."""

    counted = False  # a stream: counted against the viewers' cap

    def __init__(self, viewers):
        self.viewers = viewers
        self.frame = None
        self.task = asyncio.current_task()  # the connection writing this response
        viewers.holders.append(self)

    def _let_go(self):
        if self.frame is not None:
            self.frame.release()
            self.frame = None

    def close(self):
        self._let_go()
        self.viewers.release(self)

    async def aclose(self):
        self.close()

    def evict(self):
        """End the connection now: its frame's buffer is needed, and it will not write again."""
        self.close()
        self.task.cancel()


class FrameStream(Holder):
    """A viewer's multipart body: the latest frame at once, then each new frame once.

    A viewer with nothing left to write is parked: the hub's delivery writes it each new frame
    straight from the shared buffer, in one non-blocking write, and wakes no task. Only when
    the socket takes part of a frame (or nothing) does the connection's task wake, holding
    the frame, for microdot to write the rest; then it takes the newest frame, and so a slow
    viewer skips to the newest and never holds up the others.
    """

    counted = True

    def __init__(self, viewers, fps=0):
        super().__init__(viewers)
        self.out = viewers.writer(self.task)  # the connection's SocketWriter
        self.seq = -1  # the sequence number last written; -1 until the opening boundary
        self.interval = int(1000 / fps) if fps else 0  # this viewer's own rate cap (?fps=N)
        self.sent_at = 0
        self.rest = None  # what the socket did not take of a delivered frame
        self.failure = None  # the socket's error on a delivery
        self.woken = asyncio.Event()

    def __aiter__(self):
        return self

    async def __anext__(self):
        self._let_go()
        if self.seq < 0:
            self.seq = 0
            return OPENING
        while True:
            if self.failure is not None:
                raise self.failure
            rest, self.rest = self.rest, None
            if rest is not None:
                return rest  # its frame is held until the next call
            if self.interval:
                wait = self.interval - time.ticks_diff(time.ticks_ms(), self.sent_at)
                if wait > 0:
                    await asyncio.sleep_ms(wait)
            frame = self.viewers.hub.next_for(self.seq)
            if frame is not None:  # frames came while this viewer was writing: the newest
                self.frame = frame.acquire()
                self.seq = frame.seq
                self.sent_at = time.ticks_ms()
                return frame.part
            self.woken.clear()  # the waiter clears, offer() sets: no wake-up is lost
            self.viewers.parked.append(self)
            await self.woken.wait()

    def offer(self, frame, now):
        """Write `frame` to this parked viewer at once, without waiting. Parked again when
        the socket took it all (or when it is too soon for the viewer's rate cap); else its
        task wakes to write the rest, or to raise the socket's error."""
        if self.interval and time.ticks_diff(now, self.sent_at) < self.interval:
            self.viewers.parked.append(self)
            return
        part = frame.part
        try:
            taken = self.out.write_now(part)
        except Exception as exc:  # this viewer's fault alone: raised in its own task
            self.failure = exc
            self.woken.set()
            return
        self.seq = frame.seq
        self.sent_at = now
        if taken == len(part):
            self.viewers.parked.append(self)
            return
        self.frame = frame.acquire()
        self.rest = part[taken:]
        self.woken.set()


class Still(Holder):
    """The body of a snapshot: one frame's JPEG, held from reuse until the response closes."""

    def __init__(self, viewers, frame):
        super().__init__(viewers)
        self.frame = frame.acquire()
        self.sent = False

    def __aiter__(self):
        return self

    async def __anext__(self):
        if self.sent or self.frame is None:
            self.close()
            raise StopAsyncIteration
        self.sent = True
        return self.frame.jpeg


class Viewers:
    """The open long responses (streams, snapshots, event streams), and the cap on each kind."""

    def __init__(self, hub, limit, writer):
        self.hub = hub
        self.limit = limit
        self.writer = writer  # a connection task's SocketWriter (Server.writer)
        self.holders = []
        self.parked = []  # streams waiting for a frame: deliver() writes them the next one
        self.served = 0
        hub.evict = self.evict
        hub.deliver = self.deliver

    def count(self, kind=None):
        """The holders of `kind`; without one, the streams (MJPEG viewers, RTSP sessions)."""
        return sum(1 for holder in self.holders if (holder.counted if kind is None else
                                                    isinstance(holder, kind)))

    @property
    def streams(self):
        return self.count()

    def full(self, kind=None):
        return self.count(kind) >= self.limit

    def open(self, fps=0):
        """A new FrameStream (at most `fps` frames a second when set), registered until it
        is closed."""
        self.served += 1
        self.hub.want()
        return FrameStream(self, fps)

    def watching(self):
        """Whether anyone watches: a stream or an event listener (a snapshot is not one)."""
        return any(not isinstance(holder, Still) for holder in self.holders)

    def still(self, frame):
        return Still(self, frame)

    def release(self, holder):
        if holder in self.holders:
            self.holders.remove(holder)
        if holder in self.parked:
            self.parked.remove(holder)

    def deliver(self, frame):
        """Write `frame` to every parked stream (the hub's new frames and keep-alives)."""
        now = time.ticks_ms()
        parked, self.parked = self.parked, []
        for stream in parked:
            stream.offer(frame, now)

    def evict(self, frame):
        """Drop every response writing `frame`."""
        for holder in [h for h in self.holders if h.frame is frame]:
            holder.evict()
