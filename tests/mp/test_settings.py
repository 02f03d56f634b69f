"""Run under MicroPython: settings validation, value by value, and broken files."""
from camstream import settings
from check import check, report

DEFAULTS = settings.validate({}, warn=lambda *_: None)


def load(data):
    warnings = []
    return settings.validate(data, warn=warnings.append), warnings


BAD = {
    "port": [0, 70000, "80", 8.5, True, None],
    "name": ["-cam", "x" * 40, 5, "door cam", "caméra"],
    "camera.framesize": ["HUGE", 3, None],
    "camera.pixformat": ["RGB888", ""],
    "camera.quality": [0, 101, "high", 9],
    "camera.fps_cap": [-1, 500],
    "viewers.max": [-1, 1000, "8"],
    "viewers.stall_timeout_s": [0, "10"],
    "requests.timeout_s": [0, 61],
    "wifi": ["home", [{"password": "x"}], [{"ssid": ""}], [{"ssid": "a", "password": 5}], {}],
    "ap.open": ["yes", 1],
    "login": ["admin", {"user": "a"}, {"user": "", "password": "p"}],
}


def nest(name, value):
    data = value
    for part in reversed(name.split(".")):
        data = {part: data}
    return data


for name, values in BAD.items():
    for value in values:
        cfg, warnings = load(nest(name, value))
        check("bad %s=%r: one warning, default kept" % (name, value),
              len(warnings) == 1 and name in warnings[0] and cfg[name] == DEFAULTS[name])

cfg, warnings = load({"port": 8080, "camera": {"quality": 70, "framesize": "VGA"},
                      "wifi": [{"ssid": "home", "password": "secret"}], "_comment": "x",
                      "viewers": {"_comment": "y", "max": 3}})
check("good values taken, notes ignored", not warnings and cfg["port"] == 8080 and
      cfg["camera.quality"] == 70 and cfg["viewers.max"] == 3 and cfg["wifi"][0]["ssid"] == "home")
check("frame buffer sized from the frame size", cfg["camera.buffer_kb"] == 56 and cfg["camera.buffers"] == 3)
cfg, warnings = load({"hostname": "old-cam"})
check("hostname, as the name was called: taken, one line", cfg["name"] == "old-cam"
      and len(warnings) == 1 and "name" in warnings[0])
cfg, warnings = load({"colour": "blue"})
check("unknown setting: one warning", len(warnings) == 1 and "colour" in warnings[0])
cfg, warnings = load([1, 2])
check("not an object: defaults", cfg == DEFAULTS and len(warnings) == 1)
cfg, warnings = load({"ap": {"password": "short"}})
check("short AP password: access point off", cfg["ap.ssid"] is None and len(warnings) == 1)
cfg, warnings = load({"ap": {"password": "long enough"}})
check("WPA2 access point", cfg["ap.ssid"] == "openmv-cam" and cfg["ap.password"] == "long enough")
cfg, warnings = load({"ap": {"open": True}})
check("open access point only when asked", cfg["ap.ssid"] == "openmv-cam" and cfg["ap.open"])
check("no access point by default (no password)", DEFAULTS["ap.ssid"] is None)

for content, what in ((None, "missing"), ('{"port": 80', "corrupt"), ("\xff\xfe", "not text"),
                      ("", "empty")):
    path = "/tmp/camstream-settings-test.json"
    if content is None:
        try:
            import os
            os.remove(path)
        except OSError:
            pass
    else:
        with open(path, "w") as f:
            f.write(content)
    warnings = []
    cfg = settings.load(path, warn=warnings.append)
    check("%s file: defaults and one line" % what, cfg == DEFAULTS and len(warnings) == 1)

warnings = []
cfg = settings.load("settings.example.json", warn=warnings.append)  # linked in beside it
check("the template loads without a warning (%s)" % warnings, not warnings and cfg["port"] == 80)
report()
