"""The camera's options as settings.json and /control name them: the frame sizes, the
picture controls and the ranges of their values."""
from .checks import flag, whole

# frame size: a frame buffer's default size in KB (room for a quality-85 JPEG of a busy scene)
FRAMESIZES = {"QQVGA": 10, "QVGA": 22, "HVGA": 36, "VGA": 56, "SVGA": 84, "XGA": 112, "HD": 140}
# picture controls and their defaults; the numbers are LEVELS
PICTURE = {"hmirror": False, "vflip": False, "brightness": 0, "contrast": 0, "saturation": 0,
           "auto_gain": True, "auto_exposure": True, "auto_whitebalance": True}
LEVELS = (-3, 3)
RANGES = {"quality": (10, 100), "fps_cap": (0, 120)}


def picture_check(name):
    """The check of a picture control's values."""
    return flag if isinstance(PICTURE[name], bool) else whole(*LEVELS)
