"""Wall-clock time for timestamps, in Unix time on every board.

OpenMV's stm32-port boards (Nicla Vision, Portenta H7, GIGA R1, N6, H7 Plus) count
`time.time()` from 2000-01-01, mimxrt and alif from 1970; AE3 on firmware 4.8 has no
`time.time_ns`, so there the milliseconds come from `ticks_ms` since the second last ticked.
"""
import time

EPOCH_2000 = 946684800  # seconds from 1970-01-01 to 2000-01-01


class WallClock:
    """Unix milliseconds from whatever clock the board's `time` module offers."""

    def __init__(self, clock=time):
        self.clock = clock
        self.offset_ms = EPOCH_2000 * 1000 if clock.gmtime(0)[0] == 2000 else 0
        self._second = None  # for boards without time_ns: the last whole second seen ...
        self._ticked = 0  # ... and ticks_ms when it began

    def ms(self):
        if hasattr(self.clock, "time_ns"):
            return self.clock.time_ns() // 1000000 + self.offset_ms
        second = int(self.clock.time())
        now = self.clock.ticks_ms()
        if second != self._second:
            self._second, self._ticked = second, now
        fraction = min(self.clock.ticks_diff(now, self._ticked), 999)
        return second * 1000 + fraction + self.offset_ms

    def stamp(self):
        """Seconds since 1970 with milliseconds, as X-Timestamp carries them: "1764080000.123"."""
        ms = self.ms()
        return "%d.%03d" % (ms // 1000, ms % 1000)


wall_clock = WallClock()


def utc(unix_s):
    """time.gmtime of Unix seconds, on the boards that count from 2000 too."""
    return time.gmtime(unix_s - wall_clock.offset_ms // 1000)
