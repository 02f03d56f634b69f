"""The fake board's start-up, as OpenMV's main.c does it: boot.py on every reset, main.py
only on a start ($FAKEBOARD_RESET other than "soft"), then the REPL (micropython -i).

First what OpenMV's _boot.py does: the working directory (the board's flash) is mounted at
/flash, and a card ($FAKEBOARD_CARD, a folder) at /sdcard unless /flash/SKIPSD exists; the
board then boots from the card (its working directory and sys.path). sys.path is the board's,
with the host stand-ins for the built-in modules (csi, machine, network ...) last.
"""
import os
import sys
import vfs

vfs.mount(vfs.VfsPosix(os.getcwd()), "/flash")
os.chdir("/flash")
sys.path[:] = ["", ".frozen", "/flash", "/flash/lib"]
if os.getenv("FAKEBOARD_CARD") and "SKIPSD" not in os.listdir():
    vfs.mount(vfs.VfsPosix(os.getenv("FAKEBOARD_CARD")), "/sdcard")
    os.chdir("/sdcard")
    sys.path += ["/sdcard", "/sdcard/lib"]
sys.path.append(os.getenv("FAKEBOARD_HOST"))


def run(name):
    try:
        with open(name) as f:
            source = f.read()
    except OSError:
        return
    try:
        exec(source, {"__name__": "__main__", "__file__": name})
    except SystemExit:
        raise  # machine.reset()
    except BaseException as exc:  # as the board: the traceback, then the REPL
        sys.print_exception(exc)


try:
    run("boot.py")
    if os.getenv("FAKEBOARD_RESET") != "soft":
        run("main.py")
except SystemExit:  # machine.reset() from boot.py or main.py: -i would go on to the REPL,
    print("fakeboard: machine.reset()")  # so the fake board resets on this line
del run, vfs
