"""Health: the hardware watchdog, fed only while capture and server both make progress,
and the board LED showing connecting, serving or error.

A hardware watchdog cannot be stopped, and it outlives a soft reset. So from boot.py on,
until the camera serves, and again once it stops (Ctrl-C, mpremote), a timer feeds it:
the REPL, a deploy and the Wi-Fi join are never cut short. While the camera serves, only
its progress feeds it, so a hung camera is reset.
"""
import asyncio
import time

WDT_TIMEOUT_MS = 8000
STALE_MS = 5000  # a loop not heard from for this long is not making progress
COLOURS = {"connecting": "LED_BLUE", "serving": "LED_GREEN", "error": "LED_RED"}


class Led:
    """The board's RGB LED, where there is one; every call is harmless where there is not."""

    def __init__(self):
        self.leds = {}
        try:
            from machine import LED
            for state, name in COLOURS.items():
                self.leds[state] = LED(name)
        except (ImportError, ValueError, TypeError, OSError):
            self.leds = {}
        self.state = None

    def show(self, state):
        if state == self.state:
            return
        self.state = state
        for name, led in self.leds.items():
            (led.on if name == state else led.off)()


_feeder = None  # the timer feeding the watchdog while the camera does not
_soft = None  # the SoftWatchdog, on a board without machine.WDT
_until = None  # when the feeder stops feeding (ticks), or None: never


def watchdog():
    """machine.WDT where the board has one; else (AE3 has none) a SoftWatchdog, said once on
    the console; None where neither can be had."""
    global _soft
    try:
        from machine import WDT
        return WDT(timeout=WDT_TIMEOUT_MS)
    except ImportError:
        if _soft is None:  # its code is loaded on such a board only
            from .softdog import SoftWatchdog
            print("camera: this board has no watchdog (machine.WDT): a timer resets it if the"
                  " camera stops, but not a hang inside the firmware's C code")
            _soft = SoftWatchdog(WDT_TIMEOUT_MS, periodic)
        return _soft
    except (ValueError, OSError):
        return None


def feed_at_repl(limit_ms=None):
    """Arm the watchdog (it may run on from before a soft reset) and feed it from a timer;
    with `limit_ms`, for that long only (an image on trial that hangs before it serves is
    then reset)."""
    global _feeder, _until
    wdt = watchdog()
    if wdt is None or _feeder is not None:
        return
    _until = None if limit_ms is None else time.ticks_add(time.ticks_ms(), limit_ms)

    def feed(timer):
        if _until is None or time.ticks_diff(_until, time.ticks_ms()) > 0:
            wdt.feed()
    _feeder = periodic(WDT_TIMEOUT_MS // 4, feed)


def feed_for(ms):
    """Feed at the REPL for at least `ms` more, where a limit was set: a bounded step of the
    start (the Wi-Fi join) is not cut short by a trial's window."""
    global _until
    later = time.ticks_add(time.ticks_ms(), ms)
    if _until is not None and time.ticks_diff(later, _until) > 0:
        _until = later


def periodic(period_ms, callback):
    """A timer calling `callback(timer)` every `period_ms`: it runs even while the VM waits
    inside a C call that services the scheduler (modlwip's ERR_MEM retries, time.sleep)."""
    from machine import Timer
    try:
        return Timer(-1, period=period_ms, callback=callback)  # a virtual timer
    except (ValueError, TypeError, OSError):
        return Timer(0, period=period_ms, callback=callback)  # ports with none


def take_over_watchdog():
    """Stop the timer: from now on the camera's own progress feeds the watchdog."""
    global _feeder
    if _feeder is not None:
        _feeder.deinit()
        _feeder = None
    return watchdog()


async def supervise(hub, app, wdt, led, period_ms=1000):
    """Feed `wdt` and set `led` from the progress of the capture loop and the server."""
    seen = (-1, -1)
    capture_heard = time.ticks_ms()
    while True:
        await asyncio.sleep_ms(period_ms)
        now = time.ticks_ms()
        progress = (hub.captures, hub.capture_errors)
        if progress != seen:
            seen = progress
            capture_heard = now
        capture_ok = time.ticks_diff(now, capture_heard) < STALE_MS
        server_ok = time.ticks_diff(now, app.heartbeat) < STALE_MS
        if capture_ok and server_ok and wdt is not None:
            wdt.feed()
        stalled = hub.frame is None or hub.frame.age_ms() > STALE_MS
        led.show("serving" if capture_ok and server_ok and not stalled else "error")
