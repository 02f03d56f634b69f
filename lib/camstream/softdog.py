"""A watchdog in software, for a board without machine.WDT (AE3)."""
import time


class SoftWatchdog:
    """machine.WDT's stand-in where a board has none: a timer, whose callback runs between
    any two bytecodes (so through a Python loop that never yields, not through a hang in C),
    resets the board when it has not been fed for `timeout` ms. `periodic(ms, callback)`
    makes the timer (health.periodic)."""

    def __init__(self, timeout, periodic, reset=None):
        self.timeout = timeout
        self.fed = time.ticks_ms()
        self.reset = reset
        self.timer = periodic(timeout // 4, self._check)

    def feed(self):
        self.fed = time.ticks_ms()

    def _check(self, timer):
        if time.ticks_diff(time.ticks_ms(), self.fed) > self.timeout:
            self.timer.deinit()
            if self.reset is None:
                import machine
                self.reset = machine.reset
            self.reset()
