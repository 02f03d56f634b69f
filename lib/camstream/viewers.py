"""Viewers: one `FrameStream` per connected client, counted against a cap."""
from .hub import OPENING


class FrameStream:
    """A viewer's multipart body: the latest frame at once, then each new frame once.

    microdot writes each part this yields and asks for the next only when the write is done,
    so a slow viewer skips straight to the newest frame and never holds up the others.
    """

    def __init__(self, hub, viewers):
        self.hub = hub
        self.viewers = viewers
        self.frame = None  # the frame being written, held from reuse
        self.seq = -1  # the sequence number last written; -1 until the opening boundary

    def __aiter__(self):
        return self

    async def __anext__(self):
        self._let_go()
        if self.seq < 0:
            self.seq = 0
            return OPENING
        frame = self.hub.frame
        if frame is None or frame.seq == self.seq:
            await self.hub.event.wait()  # a new frame, or the keep-alive pulse
            frame = self.hub.frame
        self.frame = frame.acquire()
        self.seq = frame.seq
        return frame.part

    def _let_go(self):
        if self.frame is not None:
            self.frame.release()
            self.frame = None

    async def aclose(self):
        self.close()

    def close(self):
        self._let_go()
        self.viewers.release(self)


class Viewers:
    """The connected viewers, and the cap on their number."""

    def __init__(self, hub, limit=8):
        self.hub = hub
        self.limit = limit
        self.streams = []
        self.served = 0

    def full(self):
        return len(self.streams) >= self.limit

    def open(self):
        """A new FrameStream, registered until it is closed."""
        stream = FrameStream(self.hub, self)
        self.streams.append(stream)
        self.served += 1
        return stream

    def release(self, stream):
        if stream in self.streams:
            self.streams.remove(stream)


class Still:
    """The body of a snapshot: one frame's JPEG, held from reuse until the response closes."""

    def __init__(self, frame):
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

    async def aclose(self):
        self.close()

    def close(self):
        if self.frame is not None:
            self.frame.release()
            self.frame = None
