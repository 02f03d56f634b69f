"""The capture loop: the only reader of the sensor, whatever the number of viewers."""
import asyncio

from .log import log_limited

RETRY_MAX_MS = 5000


def retry_delay_ms(failures):
    """Back-off before sensor reset number `failures` in a row: 0, 100, 200, 400 ... 5000 ms."""
    return 0 if failures < 2 else min(100 << min(failures - 2, 6), RETRY_MAX_MS)


async def capture_loop(camera, hub):
    """Snapshot, encode, publish, forever. Any fault is counted, logged and retried."""
    failures = 0
    while True:
        try:
            hub.publish(await camera.jpeg())
            failures = 0
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
