"""The camera's options as settings.json and /control name them: the frame sizes, the
picture controls and the ranges of their values."""
from .checks import flag, whole

# frame size: a frame buffer's default size in KB (room for a quality-85 JPEG of a busy scene)
FRAMESIZES = {"QQVGA": 10, "QVGA": 22, "HVGA": 36, "VGA": 56, "SVGA": 84, "XGA": 112, "HD": 140}
# picture controls and their defaults; the numbers are LEVELS. The comments are their
# meanings in the settings reference (camera.<control>: tools/settings_table.py)
PICTURE = {
    "hmirror": False,  # the picture mirrored left to right
    "vflip": False,  # the picture upside down
    "brightness": 0,  # a picture control (the page and /control change it live)
    "contrast": 0,  # a picture control, as brightness
    "saturation": 0,  # a picture control, as brightness
    "auto_gain": True,  # the sensor sets its gain
    "auto_exposure": True,  # the sensor sets its exposure
    "auto_whitebalance": True,  # the sensor sets its white balance
}
LEVELS = (-3, 3)
RANGES = {"quality": (10, 100), "fps_cap": (0, 120)}


def picture_check(name):
    """The check of a picture control's values."""
    return flag if isinstance(PICTURE[name], bool) else whole(*LEVELS)
