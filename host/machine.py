"""Host stand-in for the parts of MicroPython's `machine` module the firmware uses (never flashed).

`WDT` counts feeds instead of resetting; the LED names are OpenMV's.
"""
import time

wdt = None


class WDT:
    def __init__(self, id=0, timeout=5000):
        global wdt
        self.timeout = timeout
        self.feeds = 0
        self.last_feed = time.ticks_ms()
        wdt = self

    def feed(self):
        self.feeds += 1
        self.last_feed = time.ticks_ms()


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
