"""Run under MicroPython: a wake-up sent before its waiter has started is not lost. The
capture loop can run between a request queuing its wait and that wait starting."""
import asyncio
import time

from camstream.capture import pace
from camstream.controls import Controls
from camstream.hub import FrameHub
from check import check, report


class Camera:
    """What Controls and pace use of the camera."""
    framesize = "QVGA"
    quality = 85
    fps_cap = 0
    picture = {}
    pending = None

    def sensor_module(self):
        return None

    def control(self, name):
        return None

    def pause(self):
        pass


async def capture_loop(camera):
    """Runs camera.pending between 'frames', and is always due to run: first in the queue."""
    while True:
        if camera.pending:
            apply, camera.pending = camera.pending, None
            apply()
        await asyncio.sleep_ms(0)


async def main():
    camera, hub = Camera(), FrameHub(1024, 2)
    controls = Controls(camera, hub)
    loop = asyncio.create_task(capture_loop(camera))
    began = time.ticks_ms()
    try:
        refused = await controls.change({"quality": 50})
    except Exception as exc:
        refused = exc
    took = time.ticks_diff(time.ticks_ms(), began)
    check("a change applied at once is seen applied (%d ms, %r)" % (took, refused),
          camera.quality == 50 and refused is None and took < 1000)
    loop.cancel()

    async def wanter():  # a viewer arriving, queued before the idle wait starts
        hub.want()

    asyncio.create_task(wanter())
    began = time.ticks_ms()
    await pace(camera, hub, began, 1, lambda: False)  # idle at 1 fps: waits up to 1 s
    took = time.ticks_diff(time.ticks_ms(), began)
    check("a want() before the idle wait starts ends it (%d ms)" % took, took < 500)


asyncio.run(main())
report()
