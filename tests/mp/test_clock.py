"""Run under MicroPython: X-Timestamp is Unix time whatever the board's epoch and clock."""
import time

from camstream.clock import EPOCH_2000, WallClock
from check import check, report

NOW_1970 = 1764080000  # a Unix time: 2025-11-25


class Epoch2000:
    """An stm32-port board's clock: time() counts from 2000-01-01; it has time_ns."""

    def gmtime(self, secs):
        return (2000, 1, 1, 0, 0, 0, 5, 1)

    def time(self):
        return NOW_1970 - EPOCH_2000

    def time_ns(self):
        return (NOW_1970 - EPOCH_2000) * 1000000000 + 250000000

    def ticks_ms(self):
        return 0


class NoTimeNs:
    """AE3 on firmware 4.8: epoch 1970, whole seconds, no time_ns; ticks run on."""

    def __init__(self):
        self.seconds = NOW_1970
        self.ticks = 5000

    def gmtime(self, secs):
        return (1970, 1, 1, 0, 0, 0, 3, 1)

    def time(self):
        return self.seconds

    def ticks_ms(self):
        return self.ticks

    def ticks_diff(self, a, b):
        return a - b


stm32 = WallClock(Epoch2000())
check("an epoch-2000 clock gives Unix time (%s)" % stm32.stamp(),
      stm32.stamp() == "%d.250" % NOW_1970)

ae3 = NoTimeNs()
clock = WallClock(ae3)
first = clock.ms()
ae3.ticks += 400
mid = clock.ms()
ae3.ticks += 700  # past the second, before time() says so: held at .999
late = clock.ms()
ae3.seconds += 1
ae3.ticks += 5
after = clock.ms()
check("without time_ns the clock still runs (%d %d %d %d)" % (first, mid, late, after),
      first == NOW_1970 * 1000 and mid == first + 400 and late == first + 999 and after == first + 1000)
check("its stamp has milliseconds", clock.stamp() == "%d.000" % (NOW_1970 + 1))

from camstream import clock as clock_module  # noqa: E402
from camstream.hub import FrameHub  # noqa: E402

clock_module.wall_clock.__init__(NoTimeNs())  # the hub's clock, as on AE3 with firmware 4.8
hub = FrameHub(4096)
hub.publish(b"\xff\xd8" + b"x" * 100 + b"\xff\xd9", clock_module.wall_clock.stamp())
check("frames are published without time_ns", bytes(hub.frame.part).find(b"X-Timestamp: %d." % NOW_1970) > 0)



class Ae3Firmware48:
    """AE3 on firmware 4.8 (MicroPython 1.26): `time` has ticks and sleeps, and no time,
    time_ns, gmtime, localtime or mktime (alif's mpconfigport.h enables none of them)."""

    def __init__(self):
        self.ticks = 1000

    def ticks_ms(self):
        return self.ticks

    def ticks_diff(self, a, b):
        return a - b


board = Ae3Firmware48()
clock = WallClock(board)  # the module's import does this: it must not raise
board.ticks += 2500
check("no time(): it counts from the start, and says the time is unknown",
      clock.ms() == 2500 and not clock.known)
clock.set(NOW_1970 * 1000)  # NTP's answer
board.ticks += 1234
check("NTP's answer carried on by the ticks (%s)" % clock.stamp(),
      clock.stamp() == "%d.234" % (NOW_1970 + 1) and clock.known)

from camstream.record.recorder import utc  # noqa: E402
dates = [0, 951782400, 1709164800, NOW_1970, 4102444799, 1234567890]
check("dates worked out as gmtime does", all(utc(s) == time.gmtime(s)[:6] for s in dates))

host = WallClock()
check("this host's clock is Unix time", abs(host.ms() // 1000 - time.time()) <= 1)
report()
