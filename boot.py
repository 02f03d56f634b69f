"""Board start-up, on every reset (soft ones too, such as mpremote's): put the installed
image on sys.path and keep the watchdog fed at the REPL. Nothing here waits: the network
is main.py's, which runs only on a start.

A deploy (USB or network) writes a new image into the slot not in use (`a` or `b`), marks it
complete (its BUILD file, written last) and only then names it in `active`, with `previous`
naming the slot it came from and `trial` ("<slot> <starts>") putting it on trial. So a
deploy cut short leaves the old image booting, whole. main.py counts each start on trial,
and the image removes `trial` once it has served for a while (camstream/slots.py). When two
starts on trial ended without that, the image is given up here: `active` names the previous
slot again and `rollback` says which build was given up, and why. Without slots, the flat
layout (/flash/lib) is used. The file helpers are boot.py's own (camstream/slots.py has
their like): nothing that decides a rollback may come from an image that may be the broken
one.

With an SD card in, OpenMV's start-up boots from the card unless /flash/SKIPSD exists: a
deploy writes it, and so does this file if it went missing (the camera mounts the card itself,
for its clips: camstream/card.py).
"""
import os
import sys

TRIAL_STARTS = 2  # starts an image on trial is given before it is given up
TRIAL_FEED_MS = 60000  # on trial, the watchdog is fed at the REPL for this long only


def read(name):
    """A file's text, or None. On FAT a rename over a file is a remove, then a rename:
    between the two, `<name>.tmp` holds the text."""
    for path in (name, name + ".tmp"):
        try:
            with open(path) as f:
                return f.read().strip()
        except OSError:
            pass
    return None


def write(name, text):
    with open(name + ".tmp", "w") as f:
        f.write(text)
    os.rename(name + ".tmp", name)


def remove(name):
    for path in (name, name + ".tmp"):
        try:
            os.remove(path)
        except OSError:
            pass


def installed():
    """The slot `active` names and its build, or None."""
    slot = read("active")
    build = slot and read(slot + "/BUILD")
    return (slot, build) if build else None


def judge_trial(image):
    """The image to boot, once a trial that failed twice is given up; whether it is on trial."""
    trial = (read("trial") or "").split("\n")
    slot, _, starts = trial[0].partition(" ")
    if not image or slot != image[0]:
        if trial[0]:
            remove("trial")  # a deploy cut short before its switch: nothing is on trial
        return image, False
    previous = read("previous")
    back = previous and read(previous + "/BUILD")
    if int(starts or 0) < TRIAL_STARTS or not back:
        return image, True
    why = trial[1] if len(trial) > 1 else "no answer: hung, reset or powered off"
    write("rollback", "%s %s %s" % (image[1], back, why))
    write("active", previous)
    remove("trial")
    print("camera: build %s failed %d starts on trial (%s): back to build %s (slot %s)" % (
        image[1], TRIAL_STARTS, why, back, previous))
    return (previous, back), False


def keep_booting_from_flash():
    if read("SKIPSD") is None:
        write("SKIPSD", "Boot from /flash with an SD card in (OpenMV's start-up)")
        print("camera: /flash/SKIPSD written: with an SD card in, the board boots from its flash")


def start():
    image, on_trial = judge_trial(installed())
    if image:
        keep_booting_from_flash()
        sys.path.insert(sys.path.index(".frozen") + 1 if ".frozen" in sys.path else 1,
                        image[0] + "/lib")  # relative to the flash, the current folder
        print("camera: image %s (slot %s%s)" % (image[1], image[0], ", on trial" if on_trial
                                                 else ""))
    try:
        from camstream.health import feed_at_repl
    except Exception as exc:  # ImportError with no image; anything with a broken one
        print("camera: the image does not load: %r" % (exc,) if image else
              "camera: no image installed (make deploy)")
        return
    feed_at_repl(TRIAL_FEED_MS if on_trial else None)


start()
# nothing of boot.py stays for main.py
del read, write, remove, installed, judge_trial, keep_booting_from_flash, start
