"""Host stand-in for the OpenMV image methods the vision examples use (never flashed).

They answer from the test card's ground truth (`truth.json`: where the ball is in each card
frame), not by looking at pixels: they check the firmware's plumbing, not OpenMV's
algorithms. `find_blobs` returns the ball's blob whatever the thresholds; `mean_pooled`,
`difference` and `get_statistics().l_mean()` give how many pixels the ball moved between two
frames; the draw calls are recorded on the image, which `csi` stamps into its JPEG.
`csi` makes them methods of its `Image` when the camera starts beside a `vision.py`.
"""
import json
import os

with open((os.getenv("SIM_TESTCARD") or "testcard") + "/truth.json") as _f:
    _truth = json.load(_f)
RADIUS = _truth["radius"]
BALLS = _truth["balls"]  # the ball's centre in each card frame
del _truth, _f


class Blob:
    """OpenMV's blob, for the ball: a disc of RADIUS pixels around (cx, cy)."""

    def __init__(self, cx, cy):
        self._c = (cx, cy)
        self._rect = (cx - RADIUS, cy - RADIUS, 2 * RADIUS + 1, 2 * RADIUS + 1)
        self._pixels = int(3.1416 * RADIUS * RADIUS)

    def rect(self):
        return self._rect

    def x(self):
        return self._rect[0]

    def y(self):
        return self._rect[1]

    def w(self):
        return self._rect[2]

    def h(self):
        return self._rect[3]

    def cx(self):
        return self._c[0]

    def cy(self):
        return self._c[1]

    def pixels(self):
        return self._pixels

    def area(self):
        return self._rect[2] * self._rect[3]

    def code(self):
        return 1


class Statistics:
    def __init__(self, mean):
        self._mean = mean

    def l_mean(self):
        return self._mean

    mean = l_mean


def _ball(img):
    return BALLS[img._card % len(BALLS)]


def find_blobs(img, thresholds, **kwargs):
    return [Blob(*_ball(img))]


def _record(img, *call):
    img._draws.append(" ".join(str(v) for v in call))
    return img


def draw_rectangle(img, x, y=None, w=None, h=None, **kwargs):
    if y is None:
        x, y, w, h = x
    return _record(img, "rect", x, y, w, h)


def draw_cross(img, x, y, **kwargs):
    return _record(img, "cross", x, y)


def draw_circle(img, x, y, r, **kwargs):
    return _record(img, "circle", x, y, r)


def draw_string(img, x, y, text, **kwargs):
    return _record(img, "string", x, y, text.replace(";", ","))


def mean_pooled(img, x_div, y_div):
    """A small image of its own (on a board, in the heap) showing the same scene."""
    import csi
    return csi.Image(0, img._width // x_div, img._height // y_div, img._card)


def difference(img, other, **kwargs):
    """In place, as OpenMV's: afterwards `img` stands for |img - other|."""
    (x0, y0), (x1, y1) = _ball(img), _ball(other)
    img._level = min(100, abs(x1 - x0) + abs(y1 - y0))
    return img


def get_statistics(img, **kwargs):
    return Statistics(getattr(img, "_level", 0))


METHODS = ("find_blobs", "draw_rectangle", "draw_cross", "draw_circle", "draw_string",
           "mean_pooled", "difference", "get_statistics")
