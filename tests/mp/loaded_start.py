"""main.py, and once it has served a while a console line naming the firmware's modules then
in memory ("loaded: camstream camstream.app ...")."""
import sys

import machine


def report(timer):
    timer.deinit()
    print("loaded: " + " ".join(sorted(m for m in sys.modules if m.startswith("camstream"))))


machine.Timer(-1, period=3000, callback=report)
import main  # noqa: E402,F401
