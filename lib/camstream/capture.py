"""The capture loop: the only reader of the sensor, whatever the number of viewers."""
import asyncio
import time

from .clock import wall_clock
from .log import log_limited

RETRY_MAX_MS = 5000
YIELD_MS = 2  # the least a frame that took longer than the sensor's interval yields


def retry_delay_ms(failures):
    """Back-off before sensor reset number `failures` in a row: 0, 100, 200, 400 ... 5000 ms."""
    return 0 if failures < 2 else min(100 << min(failures - 2, 6), RETRY_MAX_MS)


async def capture_loop(camera, hub, stages=(), idle_fps=0, watched=lambda: True):
    """Snapshot, run the stages (vision), encode, publish, forever: at most `camera.fps_cap`
    frames a second when set, and `idle_fps` while nobody is `watched()` (a viewer
    arriving, `hub.want()`, ends the wait). Changes to the camera apply between frames.
    Any fault is counted, logged and retried."""
    failures = 0
    while True:
        began = time.ticks_ms()
        if camera.pending:
            apply, camera.pending = camera.pending, None
            apply()
        try:
            img = await camera.snapshot()
            stamp = wall_clock.stamp()
            for stage in stages:
                wait = stage.run(img, hub.captures + 1, stamp)  # the sequence number it will get
                if wait is not None:
                    await wait
            hub.publish(camera.encode(img), stamp)
            failures = 0
            await pace(camera, hub, began, idle_fps, watched)
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


async def pace(camera, hub, began, idle_fps, watched):
    """Wait out the rest of this frame's interval under the rate cap, or the idle rate; at
    least YIELD_MS however late the frame, so that requests, the writes and the watchdog's
    supervisor run between any two frames."""
    idle = idle_fps and not watched()
    fps = min(camera.fps_cap or idle_fps, idle_fps) if idle else camera.fps_cap
    rest = 1000 // fps - time.ticks_diff(time.ticks_ms(), began) if fps else 0
    if rest <= 0:
        if time.ticks_diff(time.ticks_ms(), began) >= camera.interval_ms():
            await asyncio.sleep_ms(YIELD_MS)  # a slow frame: the snapshot will not wait
        return
    camera.pause()
    if not idle:
        await asyncio.sleep_ms(rest)
        return
    hub.wanted.clear()  # the waiter clears, want() sets: one before the wait starts counts
    try:
        await asyncio.wait_for_ms(hub.wanted.wait(), rest)
    except asyncio.TimeoutError:
        pass
