"""The heap the firmware holds (`heap_used` of /status.json, which collects garbage first): at
rest, and with 8 MJPEG viewers streaming, in its default settings, with recording and with
RTSP on, on the 64-bit interpreter and, when
$MP32 names one, the 32-bit build. Writes bench/results/heap.{md,json} and
docs/performance.md's table.
"""
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))
from firmware import MICROPYTHON, Firmware, rtsp_settings  # noqa: E402
from run import clients, progress, publish  # noqa: E402

VIEWERS = 8
HEAP = "1M"  # room for the recorder's pool beside 8 viewers
CONFIGS = {
    "default settings": {},
    "recording": {"record": {"pre_s": 0}},
    "RTSP": {"rtsp": {}},  # on free ports, given at each start
}
INTERPRETERS = {"64-bit": MICROPYTHON, "32-bit": os.getenv("MP32")}


def measure(interpreter, settings):
    if "rtsp" in settings:
        settings = dict(settings, rtsp=rtsp_settings())
    fw = Firmware(tempfile.mkdtemp(), heap=HEAP, interpreter=interpreter,
                  settings=dict(settings, viewers={"max": VIEWERS}), env={"SIM_FPS": "30"})
    try:
        time.sleep(2)
        rest = fw.status()["heap_used"]
        with ThreadPoolExecutor(1) as pool:
            job = pool.submit(clients, fw.port, VIEWERS, 6)
            time.sleep(4)
            streaming = fw.status()["heap_used"]
            job.result()
        return {"rest": rest, "viewers": streaming}
    finally:
        fw.stop()


def main():
    rows = []
    for bits, interpreter in INTERPRETERS.items():
        if not interpreter:
            continue
        for label, settings in CONFIGS.items():
            progress("heap: %s, %s ..." % (bits, label))
            rows.append(dict(measure(interpreter, settings), build=bits, settings=label))
    lines = ["| interpreter | settings | heap used at rest | with %d viewers |" % VIEWERS,
             "| --- | --- | ---: | ---: |"]
    lines += ["| %s | %s | %.1f KB | %.1f KB |" % (r["build"], r["settings"], r["rest"] / 1024,
                                                  r["viewers"] / 1024) for r in rows]
    text = "\n".join(lines)
    publish("heap", rows, text)
    print(text)


if __name__ == "__main__":
    main()
