"""Run under MicroPython: the watchdog is fed only while capture and server make progress."""
import asyncio
import time

import machine

from camstream import health, softdog
from camstream.hub import FrameHub
from check import check, report


class App:
    heartbeat = time.ticks_ms()


async def main():
    health.STALE_MS = 300
    hub = FrameHub(4096)
    app = App()
    wdt = health.watchdog()
    led = health.Led()
    check("a WDT where the board has one", isinstance(wdt, machine.WDT))
    task = asyncio.create_task(health.supervise(hub, app, wdt, led, period_ms=50))

    async def healthy(ms):
        end = time.ticks_add(time.ticks_ms(), ms)
        while time.ticks_diff(end, time.ticks_ms()) > 0:
            hub.publish(b"\xff\xd8jpeg\xff\xd9", "0.000")
            app.heartbeat = time.ticks_ms()
            await asyncio.sleep_ms(20)

    await healthy(400)
    fed = wdt.feeds
    check("fed while both make progress", fed >= 4)
    check("LED shows serving", machine.LED.lit == {"LED_GREEN"})
    await asyncio.sleep_ms(600)  # neither the capture loop nor the server heard from
    check("not fed once progress stops", wdt.feeds - fed <= 6 and
          time.ticks_diff(time.ticks_ms(), wdt.last_feed) >= 250)
    check("LED shows error", machine.LED.lit == {"LED_RED"})
    app.heartbeat = time.ticks_add(time.ticks_ms(), 100000)  # server fine, capture stuck
    fed = wdt.feeds
    await asyncio.sleep_ms(300)
    check("not fed while the capture loop is stuck", wdt.feeds == fed)
    await healthy(300)
    check("fed again once capture resumes", wdt.feeds > fed)
    task.cancel()

    health.WDT_TIMEOUT_MS = 400  # the feeder's timer runs every 100 ms
    health.feed_at_repl(300)  # a trial's window, shorter than a slow Wi-Fi join
    health.feed_for(1200)  # the join's bound
    wdt = machine.wdt  # the one the feeder feeds
    fed = wdt.feeds
    await asyncio.sleep_ms(900)
    check("a join longer than the trial's window is fed to its end", wdt.feeds - fed >= 5)
    await asyncio.sleep_ms(500)
    fed = wdt.feeds
    await asyncio.sleep_ms(400)
    check("and no longer", wdt.feeds == fed)
    health.take_over_watchdog()

    resets = []
    dog = softdog.SoftWatchdog(300, health.periodic, lambda: resets.append(time.ticks_ms()))
    await healthy(0)
    for _ in range(10):  # fed every 100 ms: never reset
        dog.feed()
        await asyncio.sleep_ms(100)
    check("a software watchdog fed in time does not reset", not resets)
    began = time.ticks_ms()
    while time.ticks_diff(time.ticks_ms(), began) < 800:  # a Python loop that never yields
        pass
    check("it resets a camera stuck in a loop that never yields", len(resets) == 1)

    del machine.WDT  # AE3: no machine.WDT at all
    health.WDT_TIMEOUT_MS = 1000
    soft = health.watchdog()
    check("without machine.WDT, a software watchdog", isinstance(soft, softdog.SoftWatchdog)
          and health.watchdog() is soft)
    soft.timer.deinit()

asyncio.run(main())
report()
