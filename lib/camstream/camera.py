"""The camera: OpenMV's sensor as an awaitable source of JPEG frames."""
import asyncio
import time

POLL_MS = 1  # between non-blocking snapshot polls; the event loop runs meanwhile
LEAD_US = 250  # the schedule runs this much ahead of the sensor each frame, so it stays in phase
TIMEOUT_MS = 3000  # no frame for this long is a capture failure, as for a blocking snapshot
LEVELS = ("brightness", "contrast", "saturation")  # a sensor without one answers False
# image.JPEG_SUBSAMPLING_420 (OpenMV 4.8 and 5.0): what RTP/JPEG carries, for MJPEG and RTSP
# alike. Left to itself the encoder picks 4:4:4 at a quality of 60 or more (imlib's jpege.c)
SUBSAMPLING_420 = 0x22


class Camera:
    """Wraps `csi.CSI` (firmware 4.8+), or the legacy `sensor` module.

    It learns the sensor's frame interval and phase and sleeps until the next frame is due,
    so most frames take one poll: every wake-up costs the CPU, on a board as on a host.

    `pending`, when set, is work for between two frames (the controls' changes): the capture
    loop runs it before the next snapshot. Picture controls in `picture` are applied again
    after every sensor reset.
    """

    def __init__(self, framesize="QVGA", pixformat="RGB565", quality=85, fps_cap=0,
                 picture=None):
        self.framesize = framesize
        self.pixformat = pixformat
        self.quality = quality
        self.fps_cap = fps_cap
        self.picture = picture or {}  # picture controls not at their defaults: name -> value
        self.pending = None
        self.lacks = ()  # the level controls the sensor refused (it has every method)
        self._sensor = None
        self.period_us = 0  # the sensor's frame interval, learnt
        self._seen = None  # when the last frame was taken
        self._due = time.ticks_us()  # when the next frame should be ready
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
        pixformat = self._sensor.reset(self.pixformat, self.framesize)
        if pixformat != self.pixformat:
            print("camera: this sensor has no %s (a mono sensor): %s" % (self.pixformat,
                                                                       pixformat))
            self.pixformat = pixformat
        for name, value in self.picture.items():
            setter = self._sensor.control(name)
            if setter and name not in LEVELS:
                setter(value)
        # set even at their defaults: False says the sensor lacks it (py_csi_ng.c); the
        # auto_* controls answer None either way, and only print a warning
        self.lacks = [name for name in LEVELS if self._sensor.control(name) and
                      self._sensor.control(name)(self.picture.get(name, 0)) is False]

    async def snapshot(self):
        """The next frame, polled without blocking the event loop."""
        if self._sensor is None:
            self.reset()
        wait_us = time.ticks_diff(self._due, time.ticks_us())
        if wait_us > 0:
            await asyncio.sleep_ms((wait_us + 999) // 1000)
        deadline = time.ticks_add(time.ticks_ms(), TIMEOUT_MS)
        missed = False
        while True:
            img = self._sensor.snapshot(blocking=False)
            if img is not None:
                self._learn(missed)
                return img
            if time.ticks_diff(time.ticks_ms(), deadline) > 0:
                raise RuntimeError("no frame from the sensor for %d ms" % TIMEOUT_MS)
            missed = True
            await asyncio.sleep_ms(POLL_MS)

    def interval_ms(self):
        """The sensor's frame interval, as learnt (0 before it is)."""
        return self.period_us // 1000

    def pause(self):
        """The caller waits between frames (a rate cap, idle): the next gap is its own, not
        the sensor's interval."""
        self._seen = None

    def _learn(self, missed):
        """Track the frame interval and phase. A gap over twice the interval is a stall and is
        ignored, unless it happens four times in a row: then it is the sensor's new rate.
        A poll that finds a frame at once says only that it was ready by then."""
        now = time.ticks_us()
        if self._seen is None:  # the first frame, or after a pause: no interval to learn
            self._seen = now
            self._due = time.ticks_add(now, self.period_us - LEAD_US if self.period_us else 0)
            return
        gap = time.ticks_diff(now, self._seen)
        self._seen = now
        period = self.period_us
        if not period or self._outliers >= 3:
            period = gap
            self._outliers = 0
        elif gap > 2 * period:
            self._outliers += 1
        else:
            period = (3 * period + gap) // 4
            self._outliers = 0
        self.period_us = period
        late = time.ticks_diff(now, self._due) > period
        self._due = time.ticks_add(now if missed or late else self._due, period - LEAD_US)

    def encode(self, img):
        """The frame as JPEG, converted in place: a view into the frame buffer, valid until
        the next snapshot."""
        encode = getattr(img, "to_jpeg", None) or img.compress
        encode(quality=self.quality, subsampling=SUBSAMPLING_420)
        return img.bytearray()

    def control(self, name):
        """The sensor's setter for picture control `name`; None where it has none (or
        refused it), or before the sensor first answers."""
        if self._sensor is None or name in self.lacks:
            return None
        return self._sensor.control(name)

    def set_framesize(self, name):
        self._sensor.framesize(name)
        self.framesize = name
        self.period_us = 0  # the new mode may run at another rate

    def sensor_module(self):
        """The module holding the sensor's constants (`csi`, or `sensor`); None before the
        sensor first answers."""
        return self._sensor.module if self._sensor else None

    @property
    def sensor(self):
        """The board's own sensor object (`csi.CSI`, or the `sensor` module), for vision's setup."""
        if self._sensor is None:
            self.reset()
        return self._sensor.csi or self._sensor.module


class _Sensor:
    """One face for `csi.CSI` (firmware 4.8+) and the legacy `sensor` module."""

    def __init__(self, module, csi):
        self.module = module
        self.csi = csi

    def reset(self, pixformat, framesize):
        """Reset the sensor to `pixformat` and `framesize`; the pixel format it took: a
        mono sensor (HM01B0, HM0360) refuses RGB565 (a RuntimeError) and gets GRAYSCALE."""
        csi = self.csi
        (csi.reset if csi else self.module.reset)()
        set_pixformat = csi.pixformat if csi else self.module.set_pixformat
        try:
            set_pixformat(getattr(self.module, pixformat))
        except RuntimeError:
            if pixformat != "RGB565":
                raise
            pixformat = "GRAYSCALE"
            set_pixformat(self.module.GRAYSCALE)
        self.framesize(framesize)
        return pixformat

    def framesize(self, name):
        size = getattr(self.module, name)
        (self.csi.framesize if self.csi else self.module.set_framesize)(size)

    def control(self, name):
        """The sensor's setter for picture control `name`, or None where it has none."""
        name = name.replace("whitebalance", "whitebal")  # OpenMV's spelling
        if self.csi is not None:
            return getattr(self.csi, name, None)
        return getattr(self.module, "set_" + name, None)

    def snapshot(self, blocking=True):
        return (self.csi or self.module).snapshot(blocking=blocking)
