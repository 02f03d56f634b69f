"""Run under MicroPython: where one viewer-frame's CPU goes, from the hub's pulse to the
socket write, timed in-process with a socket that takes every byte at once (so the kernel's
share, the same in every design, is left out).

Prints one JSON line, [step, microseconds per viewer-frame] pairs: each step of the path a viewer took
when its task woke for every frame (the viewers' wake-up, the async `__anext__` call,
`next_for` with the rate cap and the hold and release of the buffer, microdot's body loop
with the socket writer and its stall bookkeeping), and the delivery that replaced them.
"""
import asyncio
import json
import time

from camstream.hub import FrameHub
from camstream.server import SocketWriter
from camstream.viewers import FrameStream, Viewers

VIEWERS = 100
ROUNDS = 200
JPEG = memoryview(b"\xff\xd8" + bytes(20000) + b"\xff\xd9")


class Sock:
    """A socket that takes every byte at once."""

    def write(self, buf):
        return len(buf)


class Connection:
    s = Sock()


def per_viewer_frame(began):
    return time.ticks_diff(time.ticks_us(), began) / (ROUNDS * VIEWERS)


async def wake_up(hub):
    """Viewers' tasks waiting on the hub's event: set it, let every one run and wait again."""
    async def viewer():
        while True:
            await hub.event.wait()

    tasks = [asyncio.create_task(viewer()) for _ in range(VIEWERS)]
    await asyncio.sleep_ms(0)
    began = time.ticks_us()
    for _ in range(ROUNDS):
        hub.event.set()
        hub.event.clear()
        await asyncio.sleep_ms(0)
    took = per_viewer_frame(began)
    for task in tasks:
        task.cancel()
    await asyncio.sleep_ms(0)
    return took


async def async_call():
    """Calling an async def: a new coroutine object, run to its return."""
    async def anext():
        return JPEG

    began = time.ticks_us()
    for _ in range(ROUNDS * VIEWERS):
        await anext()
    return per_viewer_frame(began)


def next_frame(hub):
    """next_for, the rate cap's clock, and the hold and release of the buffer."""
    began = time.ticks_us()
    for i in range(ROUNDS * VIEWERS):
        frame = hub.next_for(0)
        time.ticks_diff(time.ticks_ms(), 0)
        frame.acquire()
        frame.release()
    return per_viewer_frame(began)


async def body_loop(part):
    """microdot's body loop step: the str check, then the SocketWriter's awrite (its stall
    bookkeeping included)."""
    out = SocketWriter(Connection(), None)
    began = time.ticks_us()
    for _ in range(ROUNDS * VIEWERS):
        body = part
        if isinstance(body, str):
            body = body.encode()
        await out.awrite(body)
    return per_viewer_frame(began)


def delivery(hub):
    """This tree: the hub writes each parked viewer the frame, one non-blocking write."""
    out = SocketWriter(Connection(), None)
    viewers = Viewers(hub, VIEWERS, lambda task: out)
    for _ in range(VIEWERS):
        stream = FrameStream(viewers)
        stream.seq = 0
        viewers.parked.append(stream)
    began = time.ticks_us()
    for _ in range(ROUNDS):
        hub.pulse()
    return per_viewer_frame(began)


async def main():
    hub = FrameHub(24 * 1024, 3)
    hub.publish(JPEG, "0.000")
    steps = [
        ["the viewers' wake-up", await wake_up(hub)],
        ["the async __anext__ call", await async_call()],
        ["next_for, the rate cap, the hold and release", next_frame(hub)],
        ["microdot's body loop and SocketWriter.awrite", await body_loop(hub.frame.part)],
    ]
    steps.append(["woken for every frame, in all", sum(us for _, us in steps)])
    steps.append(["written by the hub's delivery (offer, write_now)", delivery(hub)])
    print(json.dumps(steps))


asyncio.run(main())
