"""The vision stage: the user's `vision.py` run on each frame between capture and encode.

`process(img)` may draw on the frame (every viewer sees it) and return a JSON-serialisable
result, published with the frame's sequence number and capture time. Nothing it does can
stop the camera: an exception is counted and logged, and the frame is published anyway.
"""
import asyncio
import gc
import json
import time

from .log import log, log_limited

PAUSE_SHARE = 4  # after a process call of T ms, the server has T/4 ms (at most PAUSE_MAX_MS)
PAUSE_MAX_MS = 25  # to answer what arrived meanwhile: a request needs several turns


class Vision:
    """Runs `module.process` on every `EVERY`-th frame and keeps its latest result."""

    def __init__(self, module):
        self.process = module.process
        self.setup = getattr(module, "setup", None)
        every = getattr(module, "EVERY", 1)
        if not isinstance(every, int) or isinstance(every, bool) or every < 1:
            log("vision: EVERY must be a whole number from 1; using 1")
            every = 1
        self.every = every
        self.runs = 0
        self.errors = 0
        self.last_error = None
        self.total_us = 0
        self.max_us = 0
        self.latest = None  # the JSON text of the latest result: {"seq", "time", "ms", "result"}
        self.result = None  # the latest result itself, and its JSON text
        self.result_json = None
        self.seq = 0  # the frame it belongs to
        self.entities = getattr(module, "ENTITIES", None)  # the result's keys to publish
        self.event = asyncio.Event()  # pulsed for each new result

    def start(self, camera):
        """Call the module's setup() with the board's sensor object, once, before the first
        frame."""
        setup, self.setup = self.setup, None
        if setup is not None:
            try:
                setup(camera.sensor)
            except Exception as exc:
                self._failed("setup", exc)

    def run(self, img, seq, stamp):
        """Process frame `seq` (a stage of the capture loop): draw, publish the result.
        Returns what the loop must await (an async process, or the server's turn after a slow
        one), else None: a fast process costs no coroutine per frame."""
        if seq % self.every:
            return None
        began = time.ticks_us()
        try:
            result = self.process(img)
            if hasattr(result, "send"):  # an async def process
                return self._run_async(result, seq, stamp, began)
            self._publish(seq, stamp, began, result)
        except Exception as exc:  # MemoryError too: the camera goes on without this result
            self._failed("process", exc)
        return self._finish(began)

    async def _run_async(self, coro, seq, stamp, began):
        try:
            self._publish(seq, stamp, began, await coro)
        except Exception as exc:
            self._failed("process", exc)
        pause = self._finish(began)
        if pause is not None:
            await pause

    def _finish(self, began):
        """Count the run; after a slow one, the pause that gives the server its turn."""
        took = time.ticks_diff(time.ticks_us(), began)
        self.runs += 1
        self.total_us += took
        self.max_us = max(self.max_us, took)
        pause = min(took // 1000 // PAUSE_SHARE, PAUSE_MAX_MS)
        return asyncio.sleep_ms(pause) if pause else None

    def _failed(self, where, exc):
        self.errors += 1
        gc.collect()  # what a failed call allocated is garbage now
        self.last_error = "%s: %r" % (where, exc)
        log_limited("vision", "vision: %s failed (%d so far): %r" % (where, self.errors, exc))

    def _publish(self, seq, stamp, began, result):
        if result is None:
            return
        took = time.ticks_diff(time.ticks_us(), began)
        self.result = result
        self.result_json = json.dumps(result)
        self.latest = '{"seq": %d, "time": %s, "ms": %.1f, "result": %s}' % (
            seq, stamp, took / 1000, self.result_json)
        self.seq = seq
        self.event.set()
        self.event.clear()

    def stats(self):
        return {
            "runs": self.runs,
            "errors": self.errors,
            "last_error": self.last_error,
            "mean_ms": round(self.total_us / self.runs / 1000, 2) if self.runs else None,
            "max_ms": round(self.max_us / 1000, 2),
            "every": self.every,
        }


def load(name="vision"):
    """The Vision for the user's `vision.py`, or None: without one, or when it cannot run
    (one console line says why)."""
    try:
        module = __import__(name)
    except ImportError as exc:
        if str(exc).lower() == "no module named '%s'" % name:
            return None  # no vision.py: the camera streams as it is
        log("vision: %s.py failed to import (%r); running without vision" % (name, exc))
        return None
    except Exception as exc:  # SyntaxError, or anything its top level raised
        log("vision: %s.py failed to load (%r); running without vision" % (name, exc))
        return None
    if not callable(getattr(module, "process", None)):
        log("vision: %s.py has no process(img); running without vision" % name)
        return None
    vision = Vision(module)
    log("vision: running %s.py%s" % (name, " on every %d-th frame" % vision.every
                                       if vision.every > 1 else ""))
    return vision
