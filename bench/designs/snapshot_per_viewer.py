"""Reference design (benchmark only, never flashed): the single-viewer example people copy,
where every viewer's stream calls the sensor's snapshot() itself."""
import asyncio
import gc

import csi
from microdot import Response

from camstream import settings
from camstream.clock import wall_clock
from camstream.hub import CLOSING, HEADER, OPENING
from camstream.server import Server

sensor = csi.CSI()
sensor.reset()
sensor.pixformat(csi.RGB565)
sensor.framesize(csi.QVGA)
counters = {"captures": 0, "viewers": 0}


class SnapshotStream:
    def __init__(self):
        self.opened = False
        counters["viewers"] += 1

    def __aiter__(self):
        return self

    async def __anext__(self):
        if not self.opened:
            self.opened = True
            return OPENING
        await asyncio.sleep_ms(0)
        img = sensor.snapshot()  # blocks the whole event loop until the sensor has a frame
        img.to_jpeg(quality=85)
        counters["captures"] += 1
        jpeg = img.bytearray()
        return HEADER % (len(jpeg), wall_clock.stamp()) + bytes(jpeg) + CLOSING

    def close(self):
        counters["viewers"] -= 1


cfg = settings.load()
app = Server(max_connections=1000)


@app.get("/stream.jpg")
async def stream(request):
    return Response(SnapshotStream(), headers={
        "Content-Type": "multipart/x-mixed-replace; boundary=frame"})


@app.get("/status.json")
async def status(request):
    gc.collect()
    return dict(counters, heap_used=gc.mem_alloc(), heap_free=gc.mem_free())


async def serve():
    asyncio.create_task(announce())
    await app.start_server(port=cfg["port"])


async def announce():
    await app.listening()
    print("camera: serving http://127.0.0.1:%d/" % cfg["port"])


asyncio.run(serve())
