"""The fake board's start-up, as OpenMV's main.c does it: boot.py on every reset, main.py
only on a start ($FAKEBOARD_RESET other than "soft"), then the REPL (micropython -i).

The working directory is the board's /flash; sys.path is the board's, with the host
stand-ins for the built-in modules (csi, machine, network ...) last.
"""
import os
import sys

flash = os.getcwd()
sys.path[:] = ["", ".frozen", flash, flash + "/lib", os.getenv("FAKEBOARD_HOST")]


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
del run, flash
