"""Run under MicroPython: what the simulated sensor's own work costs a frame (the stand-in's
snapshot and JPEG encode, which a board does in C and hardware), timed in-process with
frames always due. Prints one JSON line: microseconds per frame."""
import json
import time

import csi

FRAMES = 2000

sensor = csi.CSI()
began = time.ticks_us()
for _ in range(FRAMES):
    img = sensor.snapshot(blocking=False)
    img.to_jpeg(quality=85)
    img.bytearray()
print(json.dumps({"snapshot_and_encode_us": time.ticks_diff(time.ticks_us(), began) / FRAMES}))
