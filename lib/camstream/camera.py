"""The camera: OpenMV's sensor as an awaitable source of JPEG frames."""
import asyncio
import time

POLL_MS = 1  # between non-blocking snapshot polls; the event loop runs meanwhile
TIMEOUT_MS = 3000  # no frame for this long is a capture failure, as for a blocking snapshot


class Camera:
    """Wraps `csi.CSI` (firmware 4.8+), or the legacy `sensor` module."""

    def __init__(self, framesize="QVGA", pixformat="RGB565", quality=85):
        self.framesize = framesize
        self.pixformat = pixformat
        self.quality = quality
        self._sensor = None

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
        deadline = time.ticks_add(time.ticks_ms(), TIMEOUT_MS)
        while True:
            img = self._sensor.snapshot(blocking=False)
            if img is not None:
                return img
            if time.ticks_diff(time.ticks_ms(), deadline) > 0:
                raise RuntimeError("no frame from the sensor for %d ms" % TIMEOUT_MS)
            await asyncio.sleep_ms(POLL_MS)

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
