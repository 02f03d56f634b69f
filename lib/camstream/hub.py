"""The frame hub: the latest JPEG, shared by every viewer, and the pulse that announces it.

Frames live in a fixed pool of buffers allocated at start, so keeping a frame never depends
on how fragmented the heap has become. A buffer grows when a frame needs more room (a larger
frame size) and keeps its room when frames get smaller: room given back to the heap is soon
split by small objects, and a larger frame size could not have it back. A buffer is refilled
only when no viewer is writing it. Slow viewers cannot pin the pool: one that fell behind
shares a frame already held rather than pin another buffer, and when the capture finds
every buffer held, the viewers of the oldest frame, if it is older than `evict_ms`, are
dropped to free it.
"""
import asyncio
import time

from .log import log, log_limited

BOUNDARY = "frame"
OPENING = b"--frame\r\n"  # the body's first bytes, straight after the headers
CLOSING = b"\r\n--frame\r\n"  # after each JPEG, at once: browsers paint on the next boundary
HEADER = b"Content-Type: image/jpeg\r\nContent-Length: %d\r\nX-Timestamp: %s\r\n\r\n"
OVERHEAD = len(HEADER) + 32 + len(CLOSING)  # a part's bytes beyond its JPEG, at most
KEEPALIVE_MS = 1000  # with no new frame for this long, viewers get the last one again
EVICT_MS = 250  # a frame held this long, when the capture needs its buffer, is taken back


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

    def fill(self, jpeg, seq, stamp):
        """Copy a JPEG out of the sensor's frame buffer (which the next snapshot overwrites)."""
        self.seq = seq
        self.ticks = time.ticks_ms()
        self.stamp = stamp
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

    def __init__(self, buffer_size=22 * 1024, buffers=3):
        self.frame = None
        self.pool = []
        try:
            while len(self.pool) < buffers:
                self.pool.append(Frame(buffer_size))
        except MemoryError:
            if len(self.pool) < 2:
                raise
            log("frame buffers: room for %d of %d" % (len(self.pool), buffers))
        self.captures = 0
        self.capture_errors = 0
        self.skipped = 0  # captures dropped because every buffer was held
        self.evicted = 0  # viewers dropped to free a buffer they held too long
        self.evict_ms = EVICT_MS  # longer where the writes are paced (app.py)
        self.evict = lambda frame: None  # ends the connections writing `frame`: set by Viewers
        self.deliver = lambda frame: None  # writes a frame to the waiting viewers: likewise
        self.event = asyncio.Event()  # pulsed for each frame, for whoever else waits for one
        self.wanted = asyncio.Event()  # set by want(): the capture loop wakes from idle
        self._pulsed = time.ticks_ms()

    def publish(self, jpeg, stamp):
        """Copy a JPEG, captured at `stamp` (X-Timestamp), into a free buffer, make it the
        latest frame and wake the viewers."""
        self.captures += 1
        frame = self._free_buffer(len(jpeg) + OVERHEAD)
        if frame is None:
            self.skipped += 1
            return
        frame.fill(jpeg, self.captures, stamp)
        self.frame = frame
        self.pulse()

    def next_for(self, seq):
        """The frame for a viewer that last wrote frame `seq`, or None: it waits for the
        next delivery (a new frame, or the keep-alive's latest again)."""
        latest = self.frame
        if latest is None or latest.seq == seq:
            return None
        if latest.readers or latest.seq == seq + 1 or self.spare() >= 2:
            return latest
        shared = None  # this viewer fell behind: share a frame another viewer holds
        for frame in self.pool:
            if frame.readers and frame.seq > seq and (shared is None or frame.seq > shared.seq):
                shared = frame
        return shared

    def spare(self):
        """Buffers that no viewer is writing."""
        return sum(1 for frame in self.pool if not frame.readers)

    def _free_buffer(self, need):
        free = None
        for frame in self.pool:  # the latest frame's too, once no viewer is writing it
            if not frame.readers:
                free = frame
                break
        if free is None:
            free = self._reclaim()
        if free is None or len(free.buf) >= need:
            return free
        try:  # a frame larger than the buffers (a larger frame size): this one grows, if
            grown = Frame((need * 9 // 8 + 1023) & ~1023)  # the heap has room
        except MemoryError:
            log_limited("pool", "frame buffers: no room for a %d-byte frame (camera.buffer_kb)"
                        % need)
            return None
        self.pool[self.pool.index(free)] = grown
        return grown

    def _reclaim(self):
        """Every buffer is held: drop the viewers of the oldest frame, if held too long."""
        oldest = None
        for frame in self.pool:
            if frame is not self.frame and (oldest is None or frame.seq < oldest.seq):
                oldest = frame
        if oldest is None or oldest.age_ms() < self.evict_ms:
            return None
        self.evicted += oldest.readers
        self.evict(oldest)
        return oldest if not oldest.readers else None

    def want(self):
        """Someone wants frames now (a viewer arrived, a control changed): wake the capture
        loop if it idles."""
        self.wanted.set()

    def pulse(self):
        """Deliver the latest frame to the waiting viewers and wake any other waiter (set,
        then clear: each waiter runs once)."""
        self._pulsed = time.ticks_ms()
        self.deliver(self.frame)
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
