"""Camera firmware: runs on each start, after boot.py chose the image. A start of an image
on trial is counted in `trial`; if it fails, the board resets with the reason written
there, so that boot.py gives the image up after its second failed start."""
import os


def on_trial(why=None):
    """Count a start on trial (or write why it failed): True when the image is on trial."""
    try:
        with open("trial") as f:
            slot, starts = f.read().split("\n")[0].split(" ")
    except (OSError, ValueError):
        return False
    with open("trial.tmp", "w") as f:
        f.write("%s %d\n%s" % (slot, int(starts) + (why is None), why or ""))
    os.rename("trial.tmp", "trial")
    return True


if on_trial():
    print("camera: on trial: serving for a while confirms this image")
try:
    from camstream.app import main
    main()
except Exception as exc:
    if not on_trial("failed: %r" % (exc,)):
        raise
    import sys
    import machine
    sys.print_exception(exc)
    print("camera: the image on trial failed: reset")
    machine.reset()
