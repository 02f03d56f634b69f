"""`make run`: the firmware under MicroPython as a board runs it, with the simulated camera.

Usage: python tools/desk.py FLASH IMAGE HEAP PORT [SETTINGS] [VISION]

FLASH (build/run) stands for the board's /flash and is kept from one run to the next, as a
board keeps its flash: settings saved from the page, the image slots. The image is installed
as a USB deploy does (tools/board.py): into the slot not in use, then `active` names it, on
trial when it replaces another build. Each start runs boot.py then main.py; machine.reset()
(an update, the Restart button, an image failing on trial) and the watchdog, once armed and
not fed for its timeout, start them again, so `make deploy HOST=127.0.0.1:8080` updates it
and a broken image rolls back here too. Ctrl-C stops it.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MICROPYTHON = os.path.join(ROOT, ".venv", "bin", "micropython")
HARD_RESET_STATUS = 42  # host/machine.py's reset()
WDT = "../wdt"  # the watchdog's file (host/machine.py), beside the flash folder


def note(text):
    print("desk: " + text, flush=True)


def read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def write(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.rename(path + ".tmp", path)


def install(flash, image):
    """Put `image` in a slot of `flash` and name it active, unless it is already the
    active one."""
    build = read(os.path.join(image, "BUILD"))
    old = read(os.path.join(flash, "active"))
    if old and read(os.path.join(flash, old, "BUILD")) == build:
        note("build %s in slot %s" % (build, old))
    else:
        new = "b" if old == "a" else "a"
        slot = os.path.join(flash, new)
        shutil.rmtree(slot, ignore_errors=True)
        shutil.copytree(os.path.join(image, "lib"), os.path.join(slot, "lib"))
        shutil.copy(os.path.join(image, "BUILD"), slot)  # complete: then it can be named
        if old:
            write(os.path.join(flash, "previous"), old)
            write(os.path.join(flash, "trial"), new + " 0")
        write(os.path.join(flash, "active"), new)
        note("installed build %s in slot %s%s" % (build, new, ", on trial" if old else ""))
    for name in ("boot.py", "main.py"):
        shutil.copy(os.path.join(image, name), flash)


def configure(flash, port, settings, vision):
    """settings.json: SETTINGS when given, else the one kept on the flash; PORT wins."""
    path = os.path.join(flash, "settings.json")
    source = settings or (path if os.path.exists(path) else None)
    cfg = {}
    if source:
        try:
            with open(source) as f:
                cfg = json.load(f)
        except (OSError, ValueError) as exc:
            sys.exit("make run: cannot read %s: %s" % (source, exc))
        if not isinstance(cfg, dict):
            sys.exit("make run: %s must hold a JSON object" % source)
    cfg["port"] = int(port)
    with open(path, "w") as f:
        json.dump(cfg, f, indent=1)
    if vision:
        shutil.copy(vision, os.path.join(flash, "vision.py"))
    elif os.path.exists(os.path.join(flash, "vision.py")):
        os.remove(os.path.join(flash, "vision.py"))


def link(flash, name, target):
    path = os.path.join(flash, name)
    if os.path.lexists(path):
        os.remove(path)
    os.symlink(os.path.relpath(target, flash), path)


def watchdog_expired(flash):
    path = os.path.join(flash, WDT)
    try:
        timeout_s = int(read(path) or 0) / 1000
        return timeout_s and time.time() - os.stat(path).st_mtime > timeout_s
    except (OSError, ValueError):
        return False


def run(flash, heap, env):
    """Start after start until one ends without a reset (Ctrl-C, or a failure at the
    REPL's place); its exit status."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the firmware's: it stops
    running = []
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(running and running[0].kill()))
    while True:
        if os.path.exists(os.path.join(flash, WDT)):
            os.remove(os.path.join(flash, WDT))  # a hard reset stops the watchdog
        board = subprocess.Popen([MICROPYTHON, "-X", "heapsize=" + heap, "-c",
                                  "import boot, main"], cwd=flash, env=env,
                                 preexec_fn=lambda: signal.signal(signal.SIGINT,
                                                                  signal.SIG_DFL))
        running[:] = [board]
        while board.poll() is None:
            if watchdog_expired(flash):
                board.kill()
                board.wait()
                note("the watchdog was not fed: reset")
                break
            time.sleep(0.2)
        else:
            if board.returncode != HARD_RESET_STATUS:
                return board.returncode
            note("machine.reset(): boot.py, main.py")


def main(argv):
    flash, image, heap, port = argv[1:5]
    settings = argv[5] if len(argv) > 5 else ""
    vision = argv[6] if len(argv) > 6 else ""
    os.makedirs(flash, exist_ok=True)
    install(flash, image)
    configure(flash, port, settings, vision)
    link(flash, "host", os.path.join(ROOT, "host"))
    link(flash, "testcard", os.path.join(ROOT, "build", "testcard"))
    env = dict(os.environ, MICROPYPATH=".frozen:host", SIM_TESTCARD="testcard",
               FAKEBOARD_WDT=WDT)
    return run(flash, heap, env)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
