"""Run under MicroPython: the camera takes every frame the sensor makes, mostly with one poll."""
import asyncio

import csi

from camstream.camera import Camera
from check import check, report

FRAMES = 90  # 3 s at the stand-in's 30 fps
polls = 0
sensor_snapshot = csi.CSI.snapshot


def counted_snapshot(self, blocking=True):
    global polls
    polls += 1
    return sensor_snapshot(self, blocking)


csi.CSI.snapshot = counted_snapshot


def seq_of(jpeg):
    return int(bytes(jpeg[10:18]))  # the stand-in's COM segment: "seq=NNNNNNNN"


async def main():
    global polls
    camera = Camera()
    for _ in range(10):  # learning the interval takes two frames
        camera.encode(await camera.snapshot())
    polls = 0
    seqs = []
    for _ in range(FRAMES):
        seqs.append(seq_of(camera.encode(await camera.snapshot())))
    check("each frame once, in order", all(b > a for a, b in zip(seqs, seqs[1:])))
    check("at most 5%% of the sensor's frames missed (%d)" % (seqs[-1] - seqs[0] + 1 - FRAMES),
          seqs[-1] - seqs[0] + 1 <= FRAMES * 105 // 100)
    check("about one poll a frame (%.2f)" % (polls / FRAMES), polls < FRAMES * 3 // 2)
    check("the frame interval learnt (%d us)" % camera.period_us,
          30000 < camera.period_us < 36000)


asyncio.run(main())
report()
