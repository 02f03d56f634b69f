"""Settings from `settings.json`: every value checked, every bad one replaced by its default.

A missing, corrupt or partly wrong file never stops the camera: each problem is one line on
the console and the safe default is used instead.
"""
import json
import os

from .checks import flag, one_of, text, whole
from .options import FRAMESIZES, PICTURE, RANGES, picture_check

PIXFORMATS = ("RGB565", "GRAYSCALE", "JPEG")


def _networks(v):
    ok = isinstance(v, list) and all(
        isinstance(n, dict) and text(1, 32)(n.get("ssid")) is None
        and text(0, 63)(n.get("password", "")) is None for n in v)
    if not ok:
        return 'a list of {"ssid": ..., "password": ...}'


def _name(v):
    """A host name (RFC 1123): mDNS answers it as <name>.local."""
    ok = isinstance(v, str) and len(v) <= 32 and not v.startswith("-") and not v.endswith("-")
    if not ok or any(not (c.isalpha() or c.isdigit() or c == "-") or ord(c) > 127 for c in v):
        return "1 to 32 letters, digits and hyphens, not starting or ending with a hyphen"


def _login(v):
    if v is not None and not (isinstance(v, dict) and text(1, 64)(v.get("user")) is None
                              and text(1, 64)(v.get("password")) is None):
        return 'null or {"user": ..., "password": ...}'


# name: (default, check). Dotted names are nested objects in the file.
SCHEMA = {
    "wifi": ([], _networks),
    "name": ("", _name),  # "": openmv- and the end of the board's MAC (net.default_name)
    "ap.ssid": ("openmv-cam", text(1, 32)),
    "ap.password": ("", text(0, 63)),
    "ap.open": (False, flag),
    "port": (80, whole(1, 65535)),
    "camera.framesize": ("QVGA", one_of(sorted(FRAMESIZES, key=FRAMESIZES.get))),
    "camera.pixformat": ("RGB565", one_of(PIXFORMATS)),
    "camera.quality": (85, whole(*RANGES["quality"])),
    "camera.fps_cap": (0, whole(*RANGES["fps_cap"])),
    "camera.buffer_kb": (0, whole(0, 512)),
    "camera.buffers": (3, whole(2, 16)),
    "camera.idle_fps": (1, whole(0, 30)),
    "viewers.max": (0, whole(0, 256)),  # 0: as many as the network stack carries
    "viewers.stall_timeout_s": (10, whole(1, 600)),
    "requests.timeout_s": (5, whole(1, 60)),
    "requests.max_line": (2048, whole(256, 16384)),
    "requests.max_head": (4096, whole(1024, 65536)),
    "requests.max_headers": (32, whole(4, 256)),
    "login": (None, _login),
    "mqtt.host": ("", text(0, 64)),  # empty: no MQTT, and none of its code loaded
    "mqtt.port": (1883, whole(1, 65535)),
    "mqtt.user": ("", text(0, 64)),
    "mqtt.password": ("", text(0, 64)),
    "mqtt.topic": ("", text(0, 64)),  # empty: openmv/<name>
    "mqtt.discovery": ("homeassistant", text(0, 64)),  # empty: no discovery configs
    "mqtt.keepalive_s": (30, whole(2, 600)),
    "mqtt.image_s": (10, whole(0, 86400)),  # 0: a picture only when a vision event starts
    "record.trigger": ("motion", text(1, 32)),  # recording is off without a "record" object
    "record.pre_s": (2, whole(0, 30)),
    "record.post_s": (3, whole(0, 300)),
    "record.max_s": (60, whole(1, 3600)),
    "record.fps": (5, whole(1, 30)),
    "record.timelapse_s": (0, whole(0, 86400)),  # 0: no time-lapse
    "record.dir": ("clips", text(1, 64)),
    "record.max_mb": (1024, whole(1, 1048576)),
    "record.keep_days": (0, whole(0, 3650)),  # 0: kept until room is needed
}
for _name, _default in PICTURE.items():
    SCHEMA["camera." + _name] = (_default, picture_check(_name))


def _flatten(obj, prefix, out):
    for key, value in obj.items():
        name = prefix + key
        if isinstance(value, dict) and name not in SCHEMA:
            _flatten(value, name + ".", out)
        else:
            out[name] = value
    return out


def validate(data, warn=print):
    """A complete settings dict (flat, dotted names) from parsed JSON, warning once per problem."""
    result = {name: spec[0] for name, spec in SCHEMA.items()}
    if not isinstance(data, dict):
        warn("settings: the file must hold a JSON object; using defaults")
        data = {}
    for name, value in _flatten(data, "", {}).items():
        if name.startswith("_") or "._" in name:
            continue  # "_comment" keys: notes in the file
        if name == "hostname" and "name" not in data:
            warn("settings: hostname is now called name; using it")
            name = "name"
        spec = SCHEMA.get(name)
        if spec is None:
            warn("settings: unknown setting %s ignored" % name)
            continue
        problem = spec[1](value)
        if problem:
            warn("settings: %s must be %s; using %r" % (name, problem, spec[0]))
        else:
            result[name] = value
    if not result["ap.open"] and len(result["ap.password"]) < 8:
        if result["ap.password"]:
            warn("settings: ap.password needs 8 or more characters (WPA2); no access point")
        result["ap.ssid"] = None  # no access point: WPA2 needs a password, open must be asked for
    result["record"] = isinstance(data.get("record"), dict)
    if not result["camera.buffer_kb"]:
        result["camera.buffer_kb"] = FRAMESIZES[result["camera.framesize"]]
    # the picture controls not at their defaults, as the camera applies them
    result["camera.picture"] = {name: result["camera." + name] for name in PICTURE
                                if result["camera." + name] != PICTURE[name]}
    return result


def _read(path):
    """The file's JSON; on FAT a rename over a file is a remove then a rename: between the
    two, only the temporary file holds the settings."""
    try:
        f = open(path)
    except OSError:
        f = open(path + ".tmp")
    with f:
        return json.load(f)


def load(path="settings.json", warn=print):
    """Read and validate the settings file; never raises."""
    try:
        data = _read(path)
    except OSError:
        warn("settings: no %s; using defaults" % path)
        data = {}
    except (ValueError, MemoryError) as exc:
        warn("settings: %s is not valid JSON (%s); using defaults" % (path, exc))
        data = {}
    return validate(data, warn)


def save(values, path="settings.json"):
    """Write `values` (dotted names) into the settings file, keeping everything else in it.
    Atomic: a temporary file, then a rename; a failure leaves the old file whole."""
    try:
        data = _read(path)
    except (OSError, ValueError):
        data = {}
    if not isinstance(data, dict):
        data = {}
    for name, value in values.items():
        node = data
        parts = name.split(".")
        for part in parts[:-1]:
            if not isinstance(node.get(part), dict):
                node[part] = {}
            node = node[part]
        node[parts[-1]] = value
    temporary = path + ".tmp"
    try:
        with open(temporary, "w") as f:
            json.dump(data, f)
        os.rename(temporary, path)
    except Exception:
        try:
            os.remove(temporary)
        except OSError:
            pass
        raise
