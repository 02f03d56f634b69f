"""Run under MicroPython: a broker that stops reading mid-picture is given up within the
write time limit, and the frame buffer the picture was written from is released."""
import asyncio
import time

from camstream.mqtt import client as mqtt_client
from camstream.hub import FrameHub
from check import check, report


class StuckWriter:
    """A connection whose peer reads nothing: drain() never returns."""

    def __init__(self):
        self.written = 0

    def write(self, data):
        self.written += len(data)

    async def drain(self):
        await asyncio.sleep(3600)


async def main():
    mqtt_client.WRITE_TIMEOUT_MS = 200
    hub = FrameHub(8 * 1024, 2)
    hub.publish(b"\xff\xd8" + bytes(4000) + b"\xff\xd9", "0")
    frame = hub.frame

    def picture():
        frame.acquire()
        return frame.jpeg, frame.release

    client = mqtt_client.MqttClient("127.0.0.1", 1883, "cam")
    writer = StuckWriter()
    began = time.ticks_ms()
    try:
        await client._write(writer, "cam/image", picture, True)
        error = None
    except OSError as exc:
        error = exc
    waited = time.ticks_diff(time.ticks_ms(), began)
    check("the stalled write ends in an error naming it", "stopped reading" in str(error))
    check("within the time limit (%d ms)" % waited, 200 <= waited < 2000)
    check("the whole picture was handed to the connection", writer.written > 4000)
    check("the frame buffer is released", frame.readers == 0)
    check("and the hub can refill it", hub.spare() == 2)


asyncio.run(main())
report()
