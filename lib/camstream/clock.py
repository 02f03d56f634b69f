"""Wall-clock time for timestamps, in Unix time on every board.

OpenMV's stm32-port boards (Nicla Vision, Portenta H7, GIGA R1, N6, H7 Plus) count
`time.time()` from 2000-01-01, mimxrt and alif from 1970. AE3 on firmware 4.8 (MicroPython
1.26) has no `time_ns`, so there the milliseconds come from `ticks_ms` since the second last
ticked; and no `time`, `gmtime` or `localtime` either, so there the time is what NTP answered
(`set`), carried on by `ticks_ms`, and until it answers it counts from the start (`known`
is false). Dates are worked out without `gmtime` (record/recorder.py: utc).
"""
import time

EPOCH_2000 = 946684800  # seconds from 1970-01-01 to 2000-01-01
DAY_MS = 86400000


class WallClock:
    """Unix milliseconds from whatever clock the board's `time` module offers."""

    def __init__(self, clock=time):
        self.clock = clock
        gmtime = getattr(clock, "gmtime", None)
        self.offset_ms = EPOCH_2000 * 1000 if gmtime and gmtime(0)[0] == 2000 else 0
        self.known = hasattr(clock, "time")  # else only once set()
        self._base = (0, clock.ticks_ms())  # without time(): Unix ms at a tick
        self._second = None  # for boards without time_ns: the last whole second seen ...
        self._ticked = 0  # ... and ticks_ms when it began

    def set(self, unix_ms):
        """The time NTP answered, for a board whose `time` module cannot be set."""
        self._base = (unix_ms, self.clock.ticks_ms())
        self.known = True

    def ms(self):
        clock = self.clock
        if hasattr(clock, "time_ns"):
            return clock.time_ns() // 1000000 + self.offset_ms
        now = clock.ticks_ms()
        if not hasattr(clock, "time"):
            base, ticked = self._base
            ms = base + clock.ticks_diff(now, ticked)
            if ms - base > DAY_MS:  # carried forward daily: ticks_diff holds for days only
                self._base = (ms, now)
            return ms
        second = int(clock.time())
        if second != self._second:
            self._second, self._ticked = second, now
        fraction = min(clock.ticks_diff(now, self._ticked), 999)
        return second * 1000 + fraction + self.offset_ms

    def stamp(self):
        """Seconds since 1970 with milliseconds, as X-Timestamp carries them: "1764080000.123"."""
        ms = self.ms()
        return "%d.%03d" % (ms // 1000, ms % 1000)


wall_clock = WallClock()
