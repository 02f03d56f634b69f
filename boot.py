"""Board start-up, on every reset (soft ones too, such as mpremote's): put the installed
image on sys.path and keep the watchdog fed at the REPL. Nothing here waits: the network
is main.py's, which runs only on a start.

`make deploy` writes a new image into the slot not in use (`a` or `b`), marks it complete
(its BUILD file, written last) and only then names it in `active`. So a deploy cut short
leaves the old image booting, whole. Without slots, the flat layout (/flash/lib) is used.
"""
import os
import sys


def installed():
    """The slot `active` names and its build, or None. On FAT a rename over a file is a
    remove then a rename: between the two, `active.tmp` holds the name."""
    for pointer in ("active", "active.tmp"):
        try:
            with open(pointer) as f:
                slot = f.read().strip()
            with open(slot + "/BUILD") as f:
                return slot, f.read().strip()
        except OSError:
            pass
    return None


def start():
    image = installed()
    if image:
        sys.path.insert(sys.path.index(".frozen") + 1 if ".frozen" in sys.path else 1,
                        os.getcwd().rstrip("/") + "/" + image[0] + "/lib")
        print("camera: image %s (slot %s)" % (image[1], image[0]))
    try:
        from camstream.health import feed_at_repl
    except ImportError:
        print("camera: no image installed (make deploy)")
        return
    feed_at_repl()


start()
del installed, start  # nothing of boot.py stays on the heap for main.py
