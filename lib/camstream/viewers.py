"""Viewers: one `FrameStream` per connected client, and the registry that polices them."""
import asyncio
import time

from .hub import CHUNK, OPENING
from .log import log_limited


class FrameStream:
    """A viewer's multipart body: the latest frame at once, then each new frame once.

    microdot writes every chunk this yields and asks for the next only when the write is
    done, so a slow viewer skips straight to the newest frame and never holds up others.
    """

    def __init__(self, hub, viewers, task):
        self.hub = hub
        self.viewers = viewers
        self.task = task  # the connection's task, cancelled if its socket stalls
        self.frame = None  # the frame being written, held from reuse
        self.seq = 0  # the sequence number last written
        self.chunks = (OPENING,)
        self.index = 0
        self.waiting = False
        self.progress = time.ticks_ms()

    def __aiter__(self):
        return self

    async def __anext__(self):
        self.progress = time.ticks_ms()
        if self.index == len(self.chunks):
            self._let_go()
            frame = self.hub.frame
            if frame is None or frame.seq == self.seq:
                self.waiting = True
                await self.hub.event.wait()  # a new frame, or the keep-alive pulse
                self.waiting = False
                frame = self.hub.frame
            self.frame = frame.acquire()
            self.seq = frame.seq
            self.chunks = frame.chunks
            self.index = 0
        self.index += 1
        return self.chunks[self.index - 1]

    def _let_go(self):
        if self.frame is not None:
            self.frame.release()
            self.frame = None

    def stalled_ms(self):
        """How long the socket has taken to accept the last chunk (0 while waiting for a frame)."""
        return 0 if self.waiting else time.ticks_diff(time.ticks_ms(), self.progress)

    async def aclose(self):
        self.close()

    def close(self):
        self._let_go()
        self.viewers.release(self)


class Viewers:
    """The connected viewers: a cap on their number, and a watchdog for stalled sockets."""

    def __init__(self, hub, limit=8, stall_ms=10000):
        self.hub = hub
        self.limit = limit
        self.stall_ms = stall_ms
        self.streams = []
        self.served = 0
        self.dropped = 0

    def full(self):
        return len(self.streams) >= self.limit

    def open(self):
        """A new FrameStream for the current connection, registered until closed."""
        stream = FrameStream(self.hub, self, asyncio.current_task())
        self.streams.append(stream)
        self.served += 1
        return stream

    def release(self, stream):
        if stream in self.streams:
            self.streams.remove(stream)

    async def watchdog(self):
        """Drop viewers whose socket accepted nothing for `stall_ms` (microdot has no timeouts)."""
        while True:
            await asyncio.sleep_ms(min(1000, self.stall_ms // 2))
            for stream in [s for s in self.streams if s.stalled_ms() > self.stall_ms]:
                self.dropped += 1
                log_limited("stall", "dropped a stalled viewer (%d so far)" % self.dropped)
                stream.close()
                stream.task.cancel()


class Still:
    """The body of a snapshot: one frame's JPEG, held from reuse until the response closes."""

    def __init__(self, frame):
        self.frame = frame.acquire()
        self.offset = 0

    def __aiter__(self):
        return self

    async def __anext__(self):
        jpeg = self.frame.jpeg if self.frame else b""
        if self.offset >= len(jpeg):
            self.close()
            raise StopAsyncIteration
        self.offset += CHUNK
        return jpeg[self.offset - CHUNK:self.offset]

    async def aclose(self):
        self.close()

    def close(self):
        if self.frame is not None:
            self.frame.release()
            self.frame = None
