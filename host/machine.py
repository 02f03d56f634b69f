"""Host stand-in for the parts of MicroPython's `machine` module the firmware uses (never flashed).

`WDT` counts feeds. On the fake board ($FAKEBOARD_WDT names a file) each feed also rewrites
that file, and the board's supervisor resets the interpreter when it goes stale: the watchdog
then outlives soft resets and cannot be stopped, as on the board. `reset()` ends the process
with the exit status the supervisor reads as a hard reset. `Timer` runs its callback from a
thread. The LED names are OpenMV's.
"""
import os
import sys
import time

HARD_RESET_STATUS = 42  # the fake board's supervisor restarts the interpreter from boot.py + main.py
wdt = None


class WDT:
    def __init__(self, id=0, timeout=5000):
        global wdt
        self.timeout = timeout
        self.feeds = 0
        self.last_feed = time.ticks_ms()
        self._file = os.getenv("FAKEBOARD_WDT")
        wdt = self
        self.feed()

    def feed(self):
        self.feeds += 1
        self.last_feed = time.ticks_ms()
        if self._file:
            with open(self._file, "w") as f:
                f.write(str(self.timeout))


def reset():
    sys.exit(HARD_RESET_STATUS)


class Timer:
    """A periodic virtual timer (id -1); the callback runs on its own thread."""
    PERIODIC = 1

    def __init__(self, id=-1, period=1000, mode=PERIODIC, callback=None):
        import _thread
        self._running = True
        _thread.start_new_thread(self._run, (period, callback))

    def _run(self, period, callback):
        while self._running:
            time.sleep_ms(period)
            if self._running:
                callback(self)

    def deinit(self):
        self._running = False


class LED:
    NAMES = ("LED_RED", "LED_GREEN", "LED_BLUE")
    lit = set()

    def __init__(self, name):
        if name not in self.NAMES:
            raise ValueError(name)
        self.name = name

    def on(self):
        LED.lit.add(self.name)

    def off(self):
        LED.lit.discard(self.name)
