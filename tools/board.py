"""Talk to a board over USB with mpremote: deploy the flash image, open the REPL, follow logs.

Usage: python tools/board.py deploy|repl|logs [SERIAL_PORT]
Without SERIAL_PORT the board is found automatically when exactly one is attached.
"""
import os
import subprocess
import sys

from serial.tools import list_ports

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGE = os.path.join(ROOT, "build", "image")
MPREMOTE = os.path.join(os.path.dirname(sys.executable), "mpremote")


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


def command(action, port):
    """The mpremote command line for `action` on `port`."""
    connect = [MPREMOTE, "connect", port]
    if action == "deploy":  # mpremote cp skips files that are unchanged on the board
        files = ["main.py", "boot.py", "lib"]
        files += [f for f in ("settings.json", "vision.py") if os.path.exists(os.path.join(IMAGE, f))]
        return connect + ["cp", "-r"] + files + [":", "+", "reset"]
    if action == "repl":
        return connect + ["repl"]
    if action == "logs":  # attach without a soft reset; keep a copy of what it prints
        return connect + ["resume", "repl", "--capture", os.path.join(ROOT, "build", "board.log")]
    raise SystemExit("board: unknown action %r (deploy, repl or logs)" % action)


def main(argv):
    action = argv[1] if len(argv) > 1 else ""
    cmd = command(action, pick(argv[2] if len(argv) > 2 else ""))
    if action == "deploy":
        if not os.path.exists(os.path.join(IMAGE, "main.py")):
            raise SystemExit("board: no image: run make image first")
        print("board: copying changed files of build/image to %s, then a hard reset" % cmd[2])
    return subprocess.call(cmd, cwd=IMAGE)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
