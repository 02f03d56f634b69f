"""Host stand-in for OpenMV's `csi` module: a simulated sensor (never flashed).

Board semantics kept: one frame buffer reused by every snapshot, so
`Image.bytearray()` is a view the next snapshot overwrites; `snapshot(blocking=False)`
returns None until the next frame is due; `to_jpeg()`/`compress()` convert in place;
a blocking snapshot stalls the whole process and times out after 3 s.

Frames are the test-card JPEGs in $SIM_TESTCARD/SIZE-qQUALITY[-422|-444|-gray] (the frame
size set, the test-card quality nearest the one `to_jpeg` asks for, the chroma subsampling
its `subsampling` keyword asks for, else the one OpenMV picks: 4:4:4 from quality 60;
grayscale frames for GRAYSCALE), each stamped with a JPEG comment
`seq=NNNNNNNN` (its sensor sequence number) and, when any picture control differs from its
default, a second one: `set=hmirror=1 brightness=2`.

Vision: the few OpenMV image methods the examples use come from `sim_vision` (see there),
made methods of `Image` when the sensor starts beside a `vision.py`: on a board they are
built in, so the first `process` call loads nothing. Without one the stand-in keeps its heap
small. Draw calls are recorded and, at `to_jpeg()`, stamped into that frame's JPEG as a
second comment, `draw=rect 1 2 3 4;...`.

Environment knobs:
  SIM_FPS            frames per second (default 30)
  SIM_STILL          1: the ball holds still (the same test-card frame every time)
  SIM_STILL_FOR_S    the ball holds still for this long after the first frame, then moves
  SIM_FIRST_FRAME_S  delay before the first frame (default 0)
  SIM_FAULT_RATE     fraction of snapshots that raise RuntimeError/OSError/MemoryError
  SIM_STALL_AT       frame number after which the sensor stalls ...
  SIM_STALL_S        ... for this many seconds (snapshots return None meanwhile)
  SIM_LACKS          picture controls this sensor lacks (comma-separated, e.g. saturation):
                     as on a board the methods are still there; brightness, contrast and
                     saturation answer False, the auto_* print a warning and answer None
  SIM_SENSOR         mono: a grayscale sensor (HM01B0, HM0360) that refuses RGB565
"""
import os
import random
import time

RGB565 = 1
GRAYSCALE = 2
JPEG = 3
QQVGA = 4
QVGA = 5
VGA = 6
_SIZES = {QQVGA: ("QQVGA", 160, 120), QVGA: ("QVGA", 320, 240), VGA: ("VGA", 640, 480)}
_QUALITIES = (10, 30, 50, 70, 85, 95)  # the test card's (tools/make_testcard.py)

_DEFAULTS = {"hmirror": False, "vflip": False, "brightness": 0, "contrast": 0, "saturation": 0,
             "auto_gain": True, "auto_exposure": True, "auto_whitebal": True}

BUFFER_SIZE = 22 * 1024  # the QVGA test card's largest frame (21 KB at 85) with its comments
_buffer = bytearray(BUFFER_SIZE)  # the one frame buffer, as on the board; grows for larger frames
_COMMENT = b"\xff\xfe\x00\x0eseq=%08d"  # COM segment: marker, length 14, payload
_TIMEOUT_MS = 3000
_first_frame_due = None
random.seed(1)


def _env(name, default):
    value = os.getenv(name)
    return type(default)(value) if value else default


class Image:
    """A frame in the shared buffer, or (from mean_pooled) a small image in the heap."""

    def __init__(self, size, width, height, card=0, sensor=None):
        self._size = size
        self._sensor = sensor  # the CSI that filled the frame buffer
        self._jpeg = False
        self._width = width
        self._height = height
        self._card = card  # which test-card frame this is: sim_vision knows its ball
        self._draws = []  # what vision drew on it: stamped into the JPEG by to_jpeg

    def to_jpeg(self, quality=90, subsampling=0, **kwargs):
        if not 0 < quality <= 100:
            raise ValueError("quality")
        if self._sensor is not None and not self._jpeg:
            self._size = self._sensor._encode(self, quality, subsampling)
        if self._draws and not self._jpeg:
            self._stamp_draws()
        self._jpeg = True
        return self

    def _stamp_draws(self):
        """Insert a comment segment `draw=...` after the `seq=` one, moving the rest along."""
        text = ("draw=" + ";".join(self._draws)).encode()[:65000]
        segment = b"\xff\xfe" + bytes(((len(text) + 2) >> 8, (len(text) + 2) & 255)) + text
        at = 2 + len(_COMMENT % 0)
        end = self._size + len(segment)
        if end > len(_buffer):
            raise MemoryError("frame buffer full")
        view = memoryview(_buffer)
        view[at + len(segment):end] = view[at:self._size]
        view[at:at + len(segment)] = segment
        self._size = end

    compress = to_jpeg

    def bytearray(self):
        return memoryview(_buffer)[:self._size]

    def size(self):
        return self._size

    def width(self):
        return self._width

    def height(self):
        return self._height



def _vision_methods():
    """Give `Image` OpenMV's vision and drawing methods (those `sim_vision` answers)."""
    import sim_vision
    for name in sim_vision.METHODS:
        setattr(Image, name, getattr(sim_vision, name))


class CSI:
    def __init__(self, cid=0):
        self._dir = os.getenv("SIM_TESTCARD") or "testcard"
        try:  # one folder's frames (every folder has the same): the root lists them all
            self._files = sorted(os.listdir(self._dir + "/QVGA-q85"))
        except OSError:
            raise OSError("no test card in " + self._dir)
        self._period = 1000 // _env("SIM_FPS", 30)
        self._fault_rate = _env("SIM_FAULT_RATE", 0.0)
        self._stall_at = _env("SIM_STALL_AT", 0)
        self._stall_ms = int(_env("SIM_STALL_S", 0.0) * 1000)
        self._stall_until = time.ticks_ms()
        self._seq = 0
        self._size = _SIZES[QVGA]
        self._quality = 85  # the test-card quality last asked for
        self._suffix = ""  # and its subsampling's folder suffix (see _sampling)
        self._controls = dict(_DEFAULTS)
        self._lacks = (os.getenv("SIM_LACKS") or "").split(",")
        self._mono = os.getenv("SIM_SENSOR") == "mono"
        self._pixformat = GRAYSCALE if self._mono else RGB565
        self._still = _env("SIM_STILL", 0)
        self._still_ms = int(_env("SIM_STILL_FOR_S", 0.0) * 1000)
        self._moves_at = None  # ticks when a still start ends: set at the first frame
        try:
            os.stat("vision.py")  # beside main.py, as on the board's flash
            _vision_methods()
        except OSError:
            pass
        global _first_frame_due
        if _first_frame_due is None:
            _first_frame_due = time.ticks_add(time.ticks_ms(), int(_env("SIM_FIRST_FRAME_S", 0.0) * 1000))
        self.reset()

    def reset(self):
        now = time.ticks_ms()
        self._due = _first_frame_due if time.ticks_diff(_first_frame_due, now) > 0 else now

    def pixformat(self, fmt=None):
        if fmt is None:
            return self._pixformat
        if self._mono and fmt != GRAYSCALE:  # omv_csi_raise_error(OMV_CSI_ERROR_CTL_FAILED)
            raise RuntimeError("Sensor control failed.")
        self._pixformat = fmt

    def framesize(self, size=None):
        if size is not None:
            self._size = _SIZES[size]
        return size

    def __getattr__(self, name):
        """hmirror(), vflip(), brightness() ... as the board's CSI has them (py_csi_ng.c):
        brightness, contrast and saturation set a level and answer True, or False where the
        sensor lacks it; the auto_* and the flips answer None, the flips their state when
        asked; a lacking auto_* prints OpenMV's warning."""
        if name not in _DEFAULTS:
            raise AttributeError(name)
        level = not isinstance(_DEFAULTS[name], bool)

        def control(*value, **kwargs):
            if not value:
                if level or name.startswith("auto_"):
                    raise TypeError("function takes 2 positional arguments but 1 were given")
                return self._controls[name]
            if name in self._lacks:
                if level:
                    return False
                print("Warning: %s control is not supported by this sensor." % name)
                return None
            self._controls[name] = value[0]
            return True if level else None
        return control

    def _ready_at(self):
        """When the next frame is due; a stall outlasts sensor resets, as a hung sensor's would."""
        if self._stall_ms and self._seq == self._stall_at:
            self._stall_until = time.ticks_add(time.ticks_ms(), self._stall_ms)
            self._stall_ms = 0
        if time.ticks_diff(self._stall_until, self._due) > 0:
            return self._stall_until
        return self._due

    def snapshot(self, blocking=True):
        wait = time.ticks_diff(self._ready_at(), time.ticks_ms())
        if wait > 0:
            if not blocking:
                return None
            if wait > _TIMEOUT_MS:
                time.sleep_ms(_TIMEOUT_MS)
                raise RuntimeError("Frame capture has timed out.")
            time.sleep_ms(wait)
        now = time.ticks_ms()
        if time.ticks_diff(now, self._due) > self._period:
            self._due = now  # fell behind: no burst of catch-up frames
        self._due = time.ticks_add(self._due, self._period)
        if self._fault_rate and random.random() < self._fault_rate:
            raise (RuntimeError, OSError, MemoryError)[random.randint(0, 2)]("simulated fault")
        return self._fill()

    def _fill(self):
        self._seq += 1
        if self._moves_at is None:
            self._moves_at = time.ticks_add(time.ticks_ms(), self._still_ms)
        still = self._still or time.ticks_diff(self._moves_at, time.ticks_ms()) > 0
        index = 0 if still else self._seq % len(self._files)
        return Image(self._load(index, self._seq), self._size[1], self._size[2], index, self)

    def _encode(self, img, quality, subsampling):
        """The frame's size once encoded at `quality` and `subsampling` (image.JPEG_SUBSAMPLING_*:
        0 is OpenMV's AUTO, imlib's jpege.c: 4:2:0 up to quality 35, 4:2:2 below 60, else 4:4:4):
        reloaded from that test card if the one snapshot loaded was another."""
        nearest = min(_QUALITIES, key=lambda q: abs(q - quality))
        subsampling = subsampling or (0x22 if quality <= 35 else 0x21 if quality < 60 else 0x11)
        suffix = "-gray" if self._pixformat == GRAYSCALE else "" if subsampling == 0x22 else \
            "-422" if subsampling == 0x21 else "-444"  # one component for GRAYSCALE
        if (nearest, suffix) == (self._quality, self._suffix):
            return img._size
        self._quality, self._suffix = nearest, suffix
        return self._load(img._card, self._seq)

    def _load(self, index, seq):
        """Frame `index` of the test card for the current size and quality, stamped `seq`."""
        global _buffer
        stamps = _COMMENT % seq
        changed = " ".join("%s=%d" % (k, v) for k, v in sorted(self._controls.items())
                           if v != _DEFAULTS[k])
        if changed:
            text = b"set=" + changed.encode()
            stamps += b"\xff\xfe" + bytes(((len(text) + 2) >> 8, (len(text) + 2) & 255)) + text
        offset = len(stamps)  # the file's own SOI lands under the stamps' tail
        path = "%s/%s-q%d%s/%s" % (self._dir, self._size[0], self._quality, self._suffix,
                                   self._files[index])
        need = os.stat(path)[6] + offset + 1024  # room for vision's draw comment
        if need > len(_buffer):
            have, _buffer = len(_buffer), None  # its room, for the larger one
            try:
                _buffer = bytearray(need)
            except MemoryError:
                _buffer = bytearray(have)  # that room is free again: the frame is lost
                raise
        with open(path, "rb") as f:
            size = f.readinto(memoryview(_buffer)[offset:]) + offset
        _buffer[0:2] = b"\xff\xd8"
        _buffer[2:2 + len(stamps)] = stamps
        return size
