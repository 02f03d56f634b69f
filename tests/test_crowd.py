"""A slow, stuck or bursting crowd: the other viewers keep the sensor's rate, nobody waits."""
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from firmware import MjpegReader, first_parts, wait_for
from test_robustness import HOSTILE, Streaming, exchange, head_request, reset_mid_frame


def stuck_viewer(port):
    """Asks for the stream, then never reads (a tiny receive buffer fills at once)."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.sendall(b"GET /stream.jpg HTTP/1.1\r\n\r\n")
    return s


class ThrottledReader(MjpegReader):
    """A viewer on a slow link: 2 kB every 0.1 s, about 20 kB/s."""

    def _fill(self):
        time.sleep(0.1)
        data = self.sock.recv(2000)
        if not data:
            raise EOFError("stream closed")
        self.buf += data


class SlowViewer(threading.Thread):
    """Reads the stream at about 20 kB/s, counting the frames it completes."""

    def __init__(self, port):
        super().__init__()
        self.port = port
        self.frames = 0
        self.stop = threading.Event()
        self.start()

    def run(self):
        reader = ThrottledReader(self.port, rcvbuf=8192)
        reader.opening()
        while not self.stop.is_set():
            reader.part()
            self.frames += 1
        reader.close()


def assault(port, seconds):
    """About 100 short hostile connections: malformed requests, slowloris, resets and HEADs."""
    malformed = [HOSTILE[name] for name in ("bad method", "binary garbage", "header flood",
                                            "nul in header", "long url")] * 4
    slowloris = [lambda: exchange(port, b"GET / HTTP/1.1\r\nX-A: " + b"a" * 20, 20, 0.2)] * 20
    jobs = [lambda p=p: exchange(port, p) for p in malformed] + slowloris
    jobs += [lambda: reset_mid_frame(port), lambda: head_request(port)] * 30
    jobs = jobs[::3] + jobs[1::3] + jobs[2::3]  # the kinds mixed over the run
    pace = seconds / len(jobs)
    began = time.time()

    def run(i):
        time.sleep(max(0, began + i * pace - time.time()))
        jobs[i]()

    with ThreadPoolExecutor(32) as pool:
        list(pool.map(run, range(len(jobs))))
    return len(jobs)


def rate_and_skips(fw, watch):
    """Run `watch()`, then (captures a second over it, the share of captures skipped)."""
    before, began = fw.status(), time.time()
    watch()
    after = fw.status()
    captures = after["captures"] - before["captures"]
    return captures / (time.time() - began), (after["frames_skipped"] -
                                              before["frames_skipped"]) / captures


def test_slow_and_stuck_viewers_take_no_frames_from_the_others_on_a_tight_heap(start):
    fw = start(heap="264K")  # viewers.max 8: up to 4 may be slow or stuck
    stuck = [stuck_viewer(fw.port) for _ in range(2)]
    slow = SlowViewer(fw.port)
    time.sleep(1)
    normal = Streaming(fw.port, 4)
    hostile = {}

    def watch():
        hostile["count"] = assault(fw.port, 15)
        time.sleep(5)

    sensor_rate, skipped = rate_and_skips(fw, watch)
    seconds, counts = normal.finish()
    slow.stop.set()
    slow.join(30)
    status = fw.status()
    assert hostile["count"] >= 100
    for count in counts:
        assert count >= 0.9 * sensor_rate * seconds, (counts, sensor_rate, seconds, status)
    assert sensor_rate >= 25, sensor_rate
    assert skipped <= 0.02, (skipped, status)
    assert slow.frames >= 3, "the slow viewer gets frames at its own pace"
    assert "no room" not in fw.console() and "MemoryError" not in fw.console(), fw.console()
    for s in stuck:
        s.close()


def test_viewers_max_minus_4_stuck_do_not_keep_the_pool(start):
    """Stuck viewers that the stall watchdog would leave for a minute: the pool takes its
    buffers back when it needs them, and the rest stream at the sensor's rate."""
    fw = start(heap="256K", settings={"viewers": {"stall_timeout_s": 60}})
    stuck = []
    for _ in range(3):
        stuck.append(stuck_viewer(fw.port))
        time.sleep(0.4)  # each on a different frame: three buffers held
    slow = SlowViewer(fw.port)
    normal = Streaming(fw.port, 4)
    sensor_rate, skipped = rate_and_skips(fw, lambda: time.sleep(12))
    seconds, counts = normal.finish()
    slow.stop.set()
    slow.join(30)
    status = fw.status()
    for count in counts:
        assert count >= 0.9 * sensor_rate * seconds, (counts, sensor_rate, seconds, status)
    assert skipped <= 0.02, (skipped, status)
    assert slow.frames >= 3, status
    assert status["viewers_evicted"] >= 1 and status["connections_stalled"] == 0, status
    for s in stuck:
        s.close()


def test_a_closed_viewer_frees_its_slot_at_once(start):
    """A page reload: the same browser's new stream must not meet its own old one."""
    fw = start(settings={"viewers": {"max": 1}}, env={"SIM_STALL_AT": "5", "SIM_STALL_S": "30"})
    for _ in range(20):  # while the sensor stalls too, when nothing is written for a second
        reader = MjpegReader(fw.port)
        assert reader.status == 200, fw.status()
        reader.opening()
        reader.part()
        reader.close()
    for _ in range(10):
        reset_mid_frame(fw.port)
    assert MjpegReader(fw.port).status == 200


def test_100_viewers_at_once_get_their_first_frame_without_waiting_on_the_backlog(start):
    fw = start(heap="4M", settings={"viewers": {"max": 100}})
    done, left = first_parts(fw.port, 100)
    assert left == 0 and list(done) == [b"200"] and len(done[b"200"]) == 100, (done, left)
    # a connection the listen backlog had no room for waits for a SYN retransmit: 1 s
    assert max(done[b"200"]) < 1, sorted(done[b"200"])[-5:]


def test_300_at_once_with_a_cap_of_256_are_all_answered(start):
    fw = start(heap="8M", settings={"viewers": {"max": 256}})
    done, left = first_parts(fw.port, 300)
    assert left == 0, (left, {k: len(v) for k, v in done.items()})
    assert len(done.get(b"200", [])) == 256 and len(done.get(b"503", [])) == 44, \
        {k: len(v) for k, v in done.items()}
    assert max(max(v) for v in done.values()) < 3, {k: max(v) for k, v in done.items()}
    assert wait_for(lambda: fw.status()["viewers"] == 0)
