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


def _hex(v, length):
    return isinstance(v, str) and len(v) == length and all(c in "0123456789abcdef" for c in v)


def _account(a):
    """What is wrong with an entry of `users`, or None."""
    if not isinstance(a, dict) or text(1, 64)(a.get("user")) is not None:
        return "has no user"
    if a.get("role") not in ("admin", "viewer"):
        return 'needs a role, "admin" or "viewer"'
    h = a.get("hash")
    if ("password" in a) == (h is not None):
        return "needs a password or a hash (make password), one of them"
    if h is None:
        return None if text(1, 64)(a["password"]) is None else "needs a password of 1 to 64 " \
            "characters"
    salt, _, digest = str(h.get("basic", "")).partition("$") if isinstance(h, dict) else \
        ("", "", "")
    if not (isinstance(h, dict) and isinstance(h.get("realm"), str) and _hex(h.get("sha256"), 64)
            and _hex(digest, 64) and salt and (h.get("md5") is None or _hex(h["md5"], 32))):
        return "has a hash that make password did not write"


def _users(v):
    if not isinstance(v, list):
        return 'a list of {"user": ..., "password": ..., "role": "admin" or "viewer"}'
    for n, a in enumerate(v):
        problem = _account(a)
        if problem:
            return "a list of accounts, and entry %d %s" % (n + 1, problem)


# name: (default, check). Dotted names are nested objects in the file. The comment on each
# entry (and the comment lines under it) is its meaning in the settings reference, which
# tools/settings_table.py makes from this schema: docs/settings.md.
SCHEMA = {
    "wifi": ([], _networks),  # networks to join, tried in order: [{"ssid": ..., "password": ...}]
    "name": ("", _name),  # the camera's name: its host name (DHCP, and mDNS: http://<name>.local/)
    # and in /status.json; "": openmv- and the last 6 hex digits of the board's MAC. A
    # `hostname` from older settings is taken as the name
    "ap.ssid": ("openmv-cam", text(1, 32)),  # the fallback access point's network name, opened
    # when no Wi-Fi network answers
    "ap.password": ("", text(0, 63)),  # its WPA2 password, 8 or more characters; without one
    # there is no access point, unless ap.open
    "ap.open": (False, flag),  # true: an access point with no password
    "port": (80, whole(1, 65535)),  # the HTTP port
    "camera.framesize": ("QVGA", one_of(sorted(FRAMESIZES, key=FRAMESIZES.get))),  # sensor
    # mode: the frame size (the page and /control change it live)
    "camera.pixformat": ("RGB565", one_of(PIXFORMATS)),  # sensor mode: colour, grey or the
    # sensor's own JPEG (a mono sensor takes GRAYSCALE, and says so)
    "camera.quality": (85, whole(*RANGES["quality"])),  # JPEG quality
    "camera.fps_cap": (0, whole(*RANGES["fps_cap"])),  # at most this many frames a second
    # (0: as fast as the sensor)
    "camera.buffer_kb": (0, whole(0, 512)),  # the size of each frame buffer (0: by frame size,
    # 22 KB at QVGA)
    "camera.buffers": (3, whole(2, 16)),  # frame buffers, allocated at start (fewer if the heap
    # lacks room, never under 2)
    "camera.idle_fps": (1, whole(0, 30)),  # the capture rate while nobody watches (0: always
    # the full rate)
    "viewers.max": (0, whole(0, 256)),  # viewers at once, of /stream.jpg and RTSP together;
    # more get 503 with Retry-After (RTSP: 453). 0: what the network stack carries: 8 on POSIX
    # sockets; on a board's lwIP (5 TCP connections in all), 3, or 2 with MQTT (RTSP: docs)
    "viewers.stall_timeout_s": (10, whole(1, 600)),  # a client whose socket accepts nothing
    # this long is dropped
    "requests.timeout_s": (5, whole(1, 60)),  # a request head must arrive within this
    # (slowloris)
    "requests.max_line": (2048, whole(256, 16384)),  # the longest request or header line
    # (else 431)
    "requests.max_head": (4096, whole(1024, 65536)),  # the largest request head (else 431): each
    # open connection may hold one, so these limits bound the heap a crowd can take
    "requests.max_headers": (32, whole(4, 256)),  # the most header lines (else 431)
    "login": (None, _login),  # one admin account (as an entry of users): a login is then asked
    # on every path, by HTTP Digest or Basic; with an admin, updates over the network are taken
    "users": ([], _users),  # accounts: {"user", "password" or "hash" (make password), "role"};
    # an admin may change the camera, a viewer only watch (streams, snapshots, status, clips).
    # A malformed entry keeps the camera locked until it is fixed, never open
    "auth.realm": ("camera", text(1, 64)),  # the realm logins are asked for (a hash is made
    # for one realm: make password reads it from settings.json)
    "auth.basic": (True, flag),  # false: Digest alone is offered, so no password crosses the
    # network in the clear
    "auth.nonce_s": (300, whole(10, 86400)),  # a Digest nonce is good this long; an older one
    # is answered stale=true, with a fresh one
    "mqtt.host": ("", text(0, 64)),  # the MQTT broker, a name or an address (looked up once, at
    # start); empty: no MQTT, and none of its code loaded
    "mqtt.port": (1883, whole(1, 65535)),  # the broker's port
    "mqtt.user": ("", text(0, 64)),  # the broker's login, if it asks for one
    "mqtt.password": ("", text(0, 64)),  # its password
    "mqtt.topic": ("", text(0, 64)),  # the camera's topics start with this (empty:
    # openmv/<name>)
    "mqtt.discovery": ("homeassistant", text(0, 64)),  # Home Assistant's discovery prefix
    # (empty: no discovery configs)
    "mqtt.keepalive_s": (30, whole(2, 600)),  # a ping every half of this; the broker says
    # offline after 1.5 of these without a word
    "mqtt.image_s": (10, whole(0, 86400)),  # seconds between the camera entity's pictures
    # (0: only when a vision event starts)
    "rtsp.port": (554, whole(1, 65535)),  # RTSP is on with an "rtsp" object, even {}: its port
    # (rtsp://<name>.local:554/stream)
    "rtsp.rtp_port": (5004, whole(1024, 65534)),  # the camera's UDP ports: RTP on this one,
    # RTCP on the next
    "rtsp.session_s": (60, whole(5, 3600)),  # a session whose client says nothing this long
    # (no request, no RTCP report) ends
    "rtsp.multicast": ("", text(0, 15)),  # a multicast group (239.x.x.x) for RTP/AVP;multicast
    # sessions: each packet sent once for them all; empty: none
    "record.trigger": ("motion", text(1, 32)),  # recording is on with a "record" object, even
    # {}: a key of the vision result; while it is true, an event lasts
    "record.pre_s": (2, whole(0, 30)),  # seconds kept from before the event
    "record.post_s": (3, whole(0, 300)),  # seconds kept after its end
    "record.max_s": (60, whole(1, 3600)),  # a clip ends after this long, even if the event goes
    # on (the next one starts at once)
    "record.fps": (5, whole(1, 30)),  # frames a second recorded (and played back)
    "record.timelapse_s": (0, whole(0, 86400)),  # one frame every N seconds into
    # lapse-YYYYMMDD.avi, one file a day (0: no time-lapse)
    "record.dir": ("clips", text(1, 64)),  # the clips' folder: a relative one is on the SD card
    # where the board has a slot (/sdcard/clips), else on its flash
    "record.max_mb": (1024, whole(1, 1048576)),  # the clips' budget: the oldest go first
    "record.keep_days": (0, whole(0, 3650)),  # clips older than this are deleted (0: kept
    # until room is needed)
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
    locked = False
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
        if problem and name in ("login", "users"):
            warn("settings: %s must be %s; the camera stays locked until that is "
                 "fixed" % (name, problem))
            locked = True
        elif problem:
            warn("settings: %s must be %s; using %r" % (name, problem, spec[0]))
        else:
            result[name] = value
    if not result["ap.open"] and len(result["ap.password"]) < 8:
        if result["ap.password"]:
            warn("settings: ap.password needs 8 or more characters (WPA2); no access point")
        result["ap.ssid"] = None  # no access point: WPA2 needs a password, open must be asked for
    result["record"] = isinstance(data.get("record"), dict)
    result["rtsp"] = isinstance(data.get("rtsp"), dict)
    result["accounts"] = [] if locked else _accounts(result, warn)
    if not result["camera.buffer_kb"]:
        result["camera.buffer_kb"] = FRAMESIZES[result["camera.framesize"]]
    # the picture controls not at their defaults, as the camera applies them
    result["camera.picture"] = {name: result["camera." + name] for name in PICTURE
                                if result["camera." + name] != PICTURE[name]}
    return result


def _accounts(result, warn):
    """The accounts (the login is an admin's), [] to stay locked, or None: an open camera."""
    accounts = list(result["users"])
    if result["login"]:
        accounts.insert(0, dict(result["login"], role="admin"))
    for a in accounts:
        if "hash" in a and a["hash"]["realm"] != result["auth.realm"]:
            warn("settings: users: %s's hash is for realm %s, not %s (make password again); the "
                 "camera stays locked until that is fixed" % (a["user"], a["hash"]["realm"],
                                                     result["auth.realm"]))
            return []
    return accounts or None


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
