"""The image slots on the flash, as boot.py leaves them: which one runs, the one before it,
the last rollback, and the trial of a newly deployed image, which this image ends by
confirming itself once it has served for CONFIRM_S."""
import asyncio
import os
import time

# an image confirms itself after serving this long: the server listening and frames flowing
# for more than two watchdog timeouts (8 s), so one that hangs or crashes once it serves a
# viewer or runs its vision is reset, and given up, before it is kept
CONFIRM_S = 20


def read(name):
    """A file's text, or None (`<name>.tmp` holds it while FAT renames over it)."""
    for path in (name, name + ".tmp"):
        try:
            with open(path) as f:
                return f.read().strip()
        except OSError:
            pass
    return None


def write(name, text):
    """Replace a file's text whole: a temporary file, then a rename."""
    with open(name + ".tmp", "w") as f:
        f.write(text)
    os.rename(name + ".tmp", name)


def remove(name):
    for path in (name, name + ".tmp"):
        try:
            os.remove(path)
        except OSError:
            pass


def running():
    return read("active")


def on_trial():
    slot = running()
    return bool(slot) and (read("trial") or "").split(" ")[0] == slot


def status():
    """/status.json's `update` section."""
    slot = running()
    previous = read("previous")
    rollback = read("rollback")
    answer = {"slot": slot, "on_trial": on_trial(),
              "previous_build": read(previous + "/BUILD") if previous else None,
              "last_rollback": None}
    if rollback:
        failed, back, why = (rollback.split(" ", 2) + ["", ""])[:3]
        answer["last_rollback"] = {"build": failed, "back_to": back, "reason": why}
    return answer


async def confirm(hub, app, build):
    """End this image's trial once it has served CONFIRM_S with frames flowing."""
    await app.listening()
    began = time.ticks_ms()
    captures = hub.captures
    while time.ticks_diff(time.ticks_ms(), began) < CONFIRM_S * 1000 or hub.captures == captures:
        await asyncio.sleep(1)
    remove("trial")
    print("camera: build %s confirmed (served %d s)" % (
        build, time.ticks_diff(time.ticks_ms(), began) // 1000))
