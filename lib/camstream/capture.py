"""The capture loop: the only reader of the sensor, whatever the number of viewers."""
import asyncio
import time

from .clock import wall_clock
from .log import log_limited

RETRY_MAX_MS = 5000


def retry_delay_ms(failures):
    """Back-off before sensor reset number `failures` in a row: 0, 100, 200, 400 ... 5000 ms."""
    return 0 if failures < 2 else min(100 << min(failures - 2, 6), RETRY_MAX_MS)


async def capture_loop(camera, hub, fps_cap=0, stages=()):
    """Snapshot, run the stages (vision), encode, publish, forever (at most `fps_cap` a second
    when set). Any fault is counted, logged and retried."""
    failures = 0
    interval = 1000 // fps_cap if fps_cap else 0
    while True:
        began = time.ticks_ms()
        try:
            img = await camera.snapshot()
            stamp = wall_clock.stamp()
            for stage in stages:
                wait = stage.run(img, hub.captures + 1, stamp)  # the sequence number it will get
                if wait is not None:
                    await wait
            hub.publish(camera.encode(img), stamp)
            failures = 0
            rest = interval - time.ticks_diff(time.ticks_ms(), began)
            if rest > 0:
                await asyncio.sleep_ms(rest)
        except Exception as exc:  # the sensor loop must never die
            failures += 1
            hub.capture_errors += 1
            delay = retry_delay_ms(failures)
            log_limited("capture", "capture error %d: %r; sensor reset in %d ms"
                        % (hub.capture_errors, exc, delay))
            await asyncio.sleep_ms(delay)
            try:
                camera.reset()
            except Exception as exc:
                log_limited("reset", "sensor reset failed: %r" % (exc,))
