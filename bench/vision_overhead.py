"""Run under MicroPython: the vision stage's own cost per frame with a no-op process, timed
in-process (the whole-process CPU of `make bench` is too noisy to resolve a few µs).

Prints one JSON line: microseconds per stage run, with the no-op process and without a stage.
"""
import asyncio
import json
import time

import csi

from camstream.vision import Vision


class NoOp:
    @staticmethod
    def process(img):
        return None


async def main(runs=20000):
    img = csi.CSI().snapshot()
    stage = Vision(NoOp)
    began = time.ticks_us()
    for seq in range(runs):
        wait = stage.run(img, seq, "0.000")
        if wait is not None:
            await wait
    per_run = time.ticks_diff(time.ticks_us(), began) / runs
    began = time.ticks_us()
    for seq in range(runs):
        for each in ():  # the capture loop's `for stage in stages` without a stage
            each.run(img, seq, "0.000")
    per_loop = time.ticks_diff(time.ticks_us(), began) / runs
    print(json.dumps({"stage_us": per_run, "empty_us": per_loop}))


asyncio.run(main())
