"""The frame hub: the latest JPEG, shared by every viewer, and the pulse that announces it.

Frames live in a small pool of reusable buffers, so the heap sees no 20 KB allocation per
frame and does not fragment. A buffer is reused only when no viewer is still writing it.
"""
import asyncio
import time

from .log import log_limited

BOUNDARY = "frame"
OPENING = b"--frame\r\n"  # the body's first bytes, straight after the headers
CLOSING = b"\r\n--frame\r\n"  # after each JPEG, at once: browsers paint on the next boundary
HEADER = b"Content-Type: image/jpeg\r\nContent-Length: %d\r\nX-Timestamp: %s\r\n\r\n"
OVERHEAD = len(HEADER) + 32 + len(CLOSING)  # a part's bytes beyond its JPEG, at most
KEEPALIVE_MS = 1000  # with no new frame for this long, viewers get the last one again


def wall_ms():
    """Wall-clock milliseconds since the epoch."""
    return time.time_ns() // 1000000


class Frame:
    """A reusable buffer holding one multipart part: header, JPEG, closing boundary.

    Every viewer writes the same `part`, a view of the one buffer; nothing is copied per
    viewer. `readers` counts the writes in progress: the buffer is refilled only at zero.
    Viewers tell frames apart by `seq`, so refilling the latest frame's buffer is safe.
    """

    def __init__(self, capacity):
        self.buf = bytearray(capacity)
        self.readers = 0
        self.seq = 0
        self.ticks = 0
        self.stamp = ""
        self.jpeg = None
        self.part = None

    def fill(self, jpeg, seq):
        """Copy a JPEG out of the sensor's frame buffer (which the next snapshot overwrites)."""
        self.seq = seq
        self.ticks = time.ticks_ms()
        ms = wall_ms()
        self.stamp = "%d.%03d" % (ms // 1000, ms % 1000)
        header = HEADER % (len(jpeg), self.stamp)
        start = len(header)
        end = start + len(jpeg)
        view = memoryview(self.buf)
        view[:start] = header
        view[start:end] = jpeg
        view[end:end + len(CLOSING)] = CLOSING
        self.jpeg = view[start:end]
        self.part = view[:end + len(CLOSING)]

    def acquire(self):
        self.readers += 1
        return self

    def release(self):
        self.readers -= 1

    def age_ms(self):
        return time.ticks_diff(time.ticks_ms(), self.ticks)


class FrameHub:
    """Holds the latest frame and wakes the viewers when it changes."""

    def __init__(self, buffer_size=28 * 1024, max_buffers=10):
        self.frame = None
        # two buffers up front, while the heap is still in one piece; more only for slow viewers
        self.pool = [Frame(buffer_size), Frame(buffer_size)]
        self.max_buffers = max(2, max_buffers)
        self.captures = 0
        self.capture_errors = 0
        self.skipped = 0  # captures dropped because every buffer was still being written
        self.event = asyncio.Event()
        self._pulsed = time.ticks_ms()

    def publish(self, jpeg):
        """Copy a JPEG into a free buffer, make it the latest frame and wake the viewers."""
        self.captures += 1
        frame = self._free_buffer(len(jpeg) + OVERHEAD)
        if frame is None:
            self.skipped += 1
            return
        frame.fill(jpeg, self.captures)
        self.frame = frame
        self.pulse()

    def _free_buffer(self, need):
        small = None
        for frame in self.pool:  # the latest frame's too, once no viewer is writing it
            if frame.readers == 0:
                if len(frame.buf) >= need:
                    return frame
                small = frame
        if small is not None:
            self.pool.remove(small)  # outgrown: replaced by a larger one below
        elif len(self.pool) >= self.max_buffers:
            return None
        try:
            frame = Frame((need * 9 // 8 + 1023) & ~1023)
        except MemoryError:
            log_limited("pool", "frame buffers: no room for %d bytes beside %d buffers"
                        % (need, len(self.pool)))
            return None
        self.pool.append(frame)
        return frame

    def pulse(self):
        """Wake every waiting viewer (set, then clear: each waiter runs once)."""
        self._pulsed = time.ticks_ms()
        self.event.set()
        self.event.clear()

    async def keepalive(self):
        """Re-send the last frame about once a second while the sensor delivers none."""
        while True:
            quiet = time.ticks_diff(time.ticks_ms(), self._pulsed)
            if self.frame is not None and quiet >= KEEPALIVE_MS:
                self.pulse()
                quiet = 0
            # while frames flow, this wakes about once a second
            await asyncio.sleep_ms(max(KEEPALIVE_MS - quiet, KEEPALIVE_MS // 4))
