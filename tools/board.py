"""Talk to a board over USB with mpremote: deploy the flash image, open the REPL, follow logs.

Usage: python tools/board.py deploy|repl|logs [SERIAL_PORT [IMAGE_DIR]]
Without SERIAL_PORT the board is found automatically when exactly one is attached.

The image goes on the board's flash, and /flash/SKIPSD makes the board boot from there even
with an SD card in (OpenMV boots from a card otherwise); the camera mounts the card itself.
A deploy is atomic. The board keeps two image slots, /flash/a and /flash/b; boot.py runs
the one named in /flash/active. The new image is copied into the other slot (only the
files that differ from what that slot holds), its BUILD file last, and only then does
`active` name it, on trial (boot.py goes back to the old slot if the new image fails twice
before it has served a while). Cut short at any point, the board boots the old image or the
new one, whole, and its console says which.
"""
import os
import subprocess
import sys

from serial.tools import list_ports

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGE = os.path.join(ROOT, "build", "image")
MPREMOTE = os.path.join(os.path.dirname(sys.executable), "mpremote")

# Run on the board: work on /flash (a board with an SD card in boots from the card, unless
# /flash/SKIPSD exists), pick the slot not in use, mark it incomplete, and work inside it.
PREPARE = """import os
def _exists(p):
    try:
        return bool(os.stat(p))
    except OSError:
        return False
if os.getcwd().startswith("/sdcard"):
    print("deploy: the board booted from its SD card; the camera goes on its flash")
if _exists("/flash"):
    os.chdir("/flash")
if not _exists("SKIPSD"):
    with open("SKIPSD", "w") as _f:
        _f.write("Boot from /flash with an SD card in (OpenMV's start-up); the camera mounts the card")
    print("deploy: /flash/SKIPSD written: the board boots from its flash, card or not")
if not _exists("active") and _exists("active.tmp"):
    os.rename("active.tmp", "active")
_old = open("active").read().strip() if _exists("active") else ""
_new = "b" if _old == "a" else "a"
for _p in (_new, _new + "/lib"):
    if not _exists(_p):
        os.mkdir(_p)
if _exists(_new + "/BUILD"):
    os.remove(_new + "/BUILD")
os.chdir(_new)
print("deploy: writing slot %s; until it is complete the board boots %s" % (
    _new, "slot " + _old if _old else "no image"))
"""
# Run on the board once the slot holds the whole image, BUILD included: switch to it, on
# trial, with the old slot to go back to (boot.py).
COMMIT = """os.chdir("..")
def _write(name, text):
    with open(name + ".tmp", "w") as _f:
        _f.write(text)
    os.rename(name + ".tmp", name)
if _old:
    _write("previous", _old)
    _write("trial", _new + " 0")
_write("active", _new)
print("deploy: the board now boots slot %s, build %s%s" % (_new, open(_new + "/BUILD").read().strip(),
      ", on trial" if _old else ""))
"""


def boards():
    """Serial ports that belong to a USB device (a board), not the machine's own UARTs."""
    return sorted(p.device for p in list_ports.comports() if p.vid is not None)


def pick(port):
    if port:
        return port
    found = boards()
    if len(found) == 1:
        return found[0]
    raise SystemExit("board: %s; name one: make deploy PORT=/dev/ttyACM0" % (
        "no board found (is it plugged in, and is OpenMV IDE holding its port?)" if not found
        else "%d boards found (%s)" % (len(found), ", ".join(found))))


def command(action, port, image=IMAGE):
    """The mpremote command line for `action` on `port`."""
    connect = [MPREMOTE, "connect", port]
    if action == "deploy":  # mpremote cp skips files that are unchanged on the board
        own = [f for f in ("settings.json", "vision.py") if os.path.exists(os.path.join(image, f))]
        return connect + ["exec", PREPARE, "+", "cp", "-r", "lib", "BUILD", ":.", "+",
                          "exec", COMMIT, "+", "cp", "boot.py", "main.py"] + own + [":.", "+",
                          "reset"]
    if action in ("repl", "logs"):  # attach without a reset; logs keeps a copy
        log = ["--capture", os.path.join(ROOT, "build", "board.log")] if action == "logs" else []
        return connect + ["resume", "repl"] + log
    raise SystemExit("board: unknown action %r (deploy, repl or logs)" % action)


def main(argv):
    action = argv[1] if len(argv) > 1 else ""
    image = argv[3] if len(argv) > 3 else IMAGE
    cmd = command(action, pick(argv[2] if len(argv) > 2 else ""), image)
    if action == "deploy":
        if not os.path.exists(os.path.join(image, "BUILD")):
            raise SystemExit("board: no image: run make image first")
        print("board: deploying build %s to %s, then a hard reset" % (
            open(os.path.join(image, "BUILD")).read().strip(), cmd[2]), flush=True)
    return subprocess.call(cmd, cwd=image)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
