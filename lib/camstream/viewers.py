"""Viewers: one `FrameStream` per connected client, counted against a cap; snapshots too."""
import asyncio
import time

from .hub import OPENING


class Holder:
    """A long response (stream, snapshot, event stream), registered with Viewers until it is
    closed; while it writes a frame from the hub's pool, it holds that frame's buffer."""

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

    microdot writes each part this yields and asks for the next only when the write is done,
    so a slow viewer skips straight to the newest frame and never holds up the others.
    """

    def __init__(self, viewers, fps=0):
        super().__init__(viewers)
        self.seq = -1  # the sequence number last written; -1 until the opening boundary
        self.interval = int(1000 / fps) if fps else 0  # this viewer's own rate cap (?fps=N)
        self.sent_at = 0

    def __aiter__(self):
        return self

    async def __anext__(self):
        self._let_go()
        if self.seq < 0:
            self.seq = 0
            return OPENING
        if self.interval:
            rest = self.interval - time.ticks_diff(time.ticks_ms(), self.sent_at)
            if rest > 0:
                await asyncio.sleep_ms(rest)
        hub = self.viewers.hub
        frame = hub.next_for(self.seq)
        while frame is None:
            await hub.event.wait()  # a new frame, or the keep-alive pulse
            frame = hub.next_for(self.seq, woken=True)
        self.frame = frame.acquire()
        self.seq = frame.seq
        self.sent_at = time.ticks_ms()
        return frame.part


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

    def __init__(self, hub, limit=8):
        self.hub = hub
        self.limit = limit
        self.holders = []
        self.served = 0
        hub.evict = self.evict

    def count(self, kind):
        return sum(1 for holder in self.holders if isinstance(holder, kind))

    @property
    def streams(self):
        return self.count(FrameStream)

    def full(self, kind=FrameStream):
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

    def evict(self, frame):
        """Drop every response writing `frame`."""
        for holder in [h for h in self.holders if h.frame is frame]:
            holder.evict()
