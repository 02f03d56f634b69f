"""The camera: OpenMV's sensor as an awaitable source of JPEG frames."""
import asyncio
import time

POLL_MS = 1  # between non-blocking snapshot polls; the event loop runs meanwhile
WAKE_EARLY_MS = 1  # start polling this long before the next frame is due
TIMEOUT_MS = 3000  # no frame for this long is a capture failure, as for a blocking snapshot


class Camera:
    """Wraps `csi.CSI` (firmware 4.8+), or the legacy `sensor` module."""

    def __init__(self, framesize="QVGA", pixformat="RGB565", quality=85):
        self.framesize = framesize
        self.pixformat = pixformat
        self.quality = quality
        self._sensor = None
        self.period_ms = 0  # the sensor's frame interval, learnt
        self._last = time.ticks_ms()
        self._outliers = 0

    def reset(self):
        """(Re)initialise the sensor; raises if the settings name no such mode."""
        if self._sensor is None:
            try:
                import csi
                self._sensor = _Sensor(csi, csi.CSI())
            except ImportError:
                import sensor
                self._sensor = _Sensor(sensor, None)
        self._sensor.reset(self.pixformat, self.framesize)

    async def snapshot(self):
        """The next frame, polled without blocking the event loop."""
        if self._sensor is None:
            self.reset()
        due = self.period_ms - WAKE_EARLY_MS - time.ticks_diff(time.ticks_ms(), self._last)
        if due > 0:
            await asyncio.sleep_ms(due)  # no frame is due yet: every poll would be a wasted wakeup
        deadline = time.ticks_add(time.ticks_ms(), TIMEOUT_MS)
        while True:
            img = self._sensor.snapshot(blocking=False)
            if img is not None:
                self._learn()
                return img
            if time.ticks_diff(time.ticks_ms(), deadline) > 0:
                raise RuntimeError("no frame from the sensor for %d ms" % TIMEOUT_MS)
            await asyncio.sleep_ms(POLL_MS)

    def _learn(self):
        """Track the frame interval; up to three outliers in a row (a stall) are ignored."""
        now = time.ticks_ms()
        gap = time.ticks_diff(now, self._last)
        self._last = now
        if self.period_ms and gap > 2 * self.period_ms and self._outliers < 3:
            self._outliers += 1
            return
        self._outliers = 0
        self.period_ms = (self.period_ms + gap) // 2 if self.period_ms else gap

    async def jpeg(self):
        """The next frame as JPEG: a view into the frame buffer, valid until the next snapshot."""
        img = await self.snapshot()
        encode = getattr(img, "to_jpeg", None) or img.compress
        encode(quality=self.quality)
        return img.bytearray()


class _Sensor:
    """One face for `csi.CSI` (firmware 4.8+) and the legacy `sensor` module."""

    def __init__(self, module, csi):
        self.module = module
        self.csi = csi

    def reset(self, pixformat, framesize):
        pixformat = getattr(self.module, pixformat)
        framesize = getattr(self.module, framesize)
        if self.csi is None:
            self.module.reset()
            self.module.set_pixformat(pixformat)
            self.module.set_framesize(framesize)
        else:
            self.csi.reset()
            self.csi.pixformat(pixformat)
            self.csi.framesize(framesize)

    def snapshot(self, blocking=True):
        return (self.csi or self.module).snapshot(blocking=blocking)
