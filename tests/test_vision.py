"""The user's vision code on the capture loop: results, overlays, events, and its faults."""
import json
import os
import re
import socket
import time

from firmware import ROOT, TESTCARD, MjpegReader, in_threads, seq_of, wait_for
from test_robustness import Streaming

EXAMPLES = os.path.join(ROOT, "examples")
DRAW = re.compile(rb"\xff\xfe..draw=([^\xff]*)")
with open(os.path.join(TESTCARD, "truth.json")) as f:
    TRUTH = json.load(f)


def example(name):
    with open(os.path.join(EXAMPLES, name)) as f:
        return f.read()


def ball(seq):
    """The true centre of the ball in frame `seq` (the sensor serves card frame seq % 30)."""
    return TRUTH["balls"][seq % len(TRUTH["balls"])]


class EventReader:
    """A client of /events over a raw socket: yields (event, id, data) as they arrive."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.sendall(b"GET /events HTTP/1.1\r\nAccept: text/event-stream\r\n\r\n")
        self.buf = b""
        head = self._until(b"\r\n\r\n").decode()
        self.status = int(head.split()[1])
        self.headers = head.lower()

    def _until(self, mark):
        while mark not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("events closed")
            self.buf += data
        item, self.buf = self.buf.split(mark, 1)
        return item

    def next(self):
        fields = dict(line.split(": ", 1) for line in self._until(b"\n\n").decode().split("\n"))
        return fields["event"], int(fields["id"]), json.loads(fields["data"])

    def close(self):
        self.sock.close()


def test_track_ball_results_match_the_true_ball_frame_by_frame(start):
    fw = start(vision=example("track_ball.py"))
    assert "vision: running vision.py" in fw.console()
    events = EventReader(fw.port)
    assert events.status == 200 and "content-type: text/event-stream" in events.headers
    seen = []
    for _ in range(60):
        event, seq, data = events.next()
        assert event == "vision" and data["seq"] == seq
        result = data["result"]
        tx, ty = ball(seq)
        assert result["found"] and abs(result["x"] - tx) <= 2 and abs(result["y"] - ty) <= 2, \
            (seq, result, (tx, ty))
        seen.append(seq)
    events.close()
    assert seen == sorted(set(seen))
    for _ in range(10):
        status, headers, body = fw.get("/vision.json")
        data = json.loads(body)
        assert status == 200 and headers["Content-Type"] == "application/json"
        assert set(data) == {"seq", "time", "ms", "result"} and data["ms"] >= 0
        assert abs(data["time"] - time.time()) < 5
        tx, ty = ball(data["seq"])
        assert abs(data["result"]["x"] - tx) <= 2 and abs(data["result"]["y"] - ty) <= 2
        time.sleep(0.05)
    stats = fw.status()["vision"]
    assert stats["runs"] > 60 and stats["errors"] == 0 and stats["max_ms"] >= stats["mean_ms"]


def test_each_frame_carries_its_own_overlay(start):
    fw = start(vision=example("track_ball.py"))
    reader = MjpegReader(fw.port)
    reader.opening()
    for _ in range(60):
        _, jpeg = reader.part()
        seq = seq_of(jpeg)
        tx, ty = ball(seq)
        r = TRUTH["radius"]
        draws = DRAW.search(jpeg[:200]).group(1).decode()
        assert draws == "rect %d %d %d %d;cross %d %d" % (tx - r, ty - r, 2 * r + 1, 2 * r + 1,
                                                          tx, ty), (seq, draws)
    reader.close()


def test_three_event_listeners_get_the_results_in_order(start):
    fw = start(vision=example("track_ball.py"))
    got = {}

    def listen(key):
        events = EventReader(fw.port)
        ids = []
        end = time.time() + 4
        while time.time() < end:
            _, seq, data = events.next()
            assert data["seq"] == seq
            ids.append(seq)
        events.close()
        got[key] = ids

    in_threads(listen, 3)
    assert len(got) == 3
    assert wait_for(lambda: fw.status()["listeners"] == 0)
    for ids in got.values():
        assert ids == sorted(set(ids)), "in order, each once"
        published = ids[-1] - ids[0] + 1  # every frame has a result: one per sequence number
        assert len(ids) >= 0.9 * published, (len(ids), published)


def test_eight_viewers_keep_the_frame_rate_while_track_ball_runs(start):
    fw = start(vision=example("track_ball.py"))
    viewers = Streaming(fw.port, 8)
    time.sleep(4)
    seconds, counts = viewers.finish()
    for count in counts:
        assert count >= 0.9 * 30 * seconds, (counts, seconds)


def test_motion_example_sees_the_ball_move_and_hold_still(start):
    moving = start(vision=example("motion.py"))
    still = start(vision=example("motion.py"), env={"SIM_STILL": "1"})
    for fw, expected in ((moving, True), (still, False)):
        assert wait_for(lambda: fw.get("/vision.json")[0] == 200)
        results = [json.loads(fw.get("/vision.json")[2])["result"] for _ in range(5)]
        assert all(r["motion"] is expected for r in results), results
        assert all((r["level"] > 2) is expected for r in results), results


EVERY_THIRD_ASYNC = """
import asyncio
EVERY = 3
calls = []

def setup(sensor):
    calls.append(type(sensor).__name__)

async def process(img):
    await asyncio.sleep_ms(1)
    return {"setups": calls}
"""


def test_every_setup_and_async_process(start):
    fw = start(vision=EVERY_THIRD_ASYNC)
    events = EventReader(fw.port)
    seqs = []
    for _ in range(5):
        _, seq, data = events.next()
        assert data["result"] == {"setups": ["CSI"]}, data
        seqs.append(seq)
    events.close()
    assert all(seq % 3 == 0 for seq in seqs) and seqs == sorted(set(seqs)), seqs
    assert fw.status()["vision"]["every"] == 3


def keeps_serving(fw, seconds=2):
    """The camera streams and answers snapshots while the vision code misbehaves."""
    reader = MjpegReader(fw.port)
    reader.opening()
    seqs = []
    end = time.time() + seconds
    while time.time() < end:
        seqs.append(seq_of(reader.part()[1]))
        assert fw.get("/snapshot.jpg", timeout=5)[0] == 200
    reader.close()
    assert len(set(seqs)) >= 3, seqs
    return seqs


RAISES_EVERY_THIRD = """
calls = [0]

def process(img):
    calls[0] += 1
    img.draw_string(0, 0, "before")
    if calls[0] % 3 == 0:
        raise ValueError("bad frame")
    return {"ok": True}
"""


def test_a_process_that_raises_is_counted_and_logged(start):
    began = time.time()
    fw = start(vision=RAISES_EVERY_THIRD)
    keeps_serving(fw)
    stats = fw.status()["vision"]
    assert stats["errors"] >= stats["runs"] // 3 > 10, stats
    assert "ValueError('bad frame'" in stats["last_error"]
    lines = [line for line in fw.console().splitlines() if line.startswith("vision: process failed")]
    assert 1 <= len(lines) <= time.time() - began + 1, lines  # at most once a second
    assert json.loads(fw.get("/vision.json")[2])["result"] == {"ok": True}


def test_a_slow_process_lowers_the_rate_but_never_freezes_the_server(start):
    fw = start(vision="import time\ndef process(img):\n    time.sleep_ms(100)\n    return 1\n")
    time.sleep(1)
    before, began = fw.status()["captures"], time.time()
    reader = MjpegReader(fw.port)
    reader.opening()
    gaps, last = [], time.time()
    for _ in range(15):
        reader.part()
        now = time.time()
        gaps.append(now - last)
        last = now
        took = time.time()
        assert fw.get("/snapshot.jpg", timeout=5)[0] == 200
        gaps.append(time.time() - took)
    reader.close()
    rate = (fw.status()["captures"] - before) / (time.time() - began)
    assert rate < 11, rate
    assert max(gaps[1:]) < 0.35, gaps  # no wait longer than about one process call (0.1 s)
    assert fw.status()["vision"]["mean_ms"] >= 99


def test_a_process_that_exhausts_the_heap(start):
    fw = start(vision="def process(img):\n    hog = []\n    while True:\n"
                      "        hog.append(bytearray(512))\n")
    keeps_serving(fw)
    stats = fw.status()["vision"]
    assert stats["errors"] >= 5 and "MemoryError" in stats["last_error"], stats
    assert fw.get("/vision.json")[0] == 503  # no result, ever
    assert fw.status()["capture_errors"] == 0


def test_a_vision_file_with_a_syntax_error(start):
    fw = start(vision="def process(img)\n    return 1\n")
    assert "vision: vision.py failed to load (SyntaxError" in fw.console(), fw.console()
    keeps_serving(fw)
    assert fw.get("/vision.json")[0] == 404 and fw.status()["vision"] is None


def test_a_vision_file_without_process(start):
    fw = start(vision="def analyse(img):\n    return 1\n")
    assert "vision: vision.py has no process(img); running without vision" in fw.console()
    keeps_serving(fw)
    assert fw.get("/vision.json")[0] == 404


def test_an_import_inside_vision_py_that_fails_is_reported(start):
    fw = start(vision="import visionlib_not_here\ndef process(img):\n    return 1\n")
    assert "vision: vision.py failed to import" in fw.console(), fw.console()
    keeps_serving(fw)


def test_without_vision_py_nothing_changes(start):
    fw = start()
    assert "vision" not in fw.console()
    status, _, body = fw.get("/vision.json")
    assert status == 404 and b"no vision.py" in body
    assert fw.get("/events")[0] == 404
    assert fw.status()["vision"] is None
    keeps_serving(fw)
