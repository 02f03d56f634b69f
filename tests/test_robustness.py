"""No viewer, fault or malformed request can stall, leak or kill the camera."""
import os
import socket
import struct
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from firmware import MjpegReader, seq_of, wait_for


class Streaming:
    """Viewers reading /stream.jpg in the background, counting what they receive."""

    def __init__(self, port, count, headers=None):
        self.headers = headers
        self.frames = [[] for _ in range(count)]
        self.arrivals = [[] for _ in range(count)]  # when each part arrived
        self.errors = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._read, args=(port, i)) for i in range(count)]
        for t in self.threads:
            t.start()
        self.began = time.time()

    def _read(self, port, i):
        try:
            reader = MjpegReader(port, headers=self.headers)
            reader.opening()
            while not self.stop.is_set():
                self.frames[i].append(seq_of(reader.part()[1]))
                self.arrivals[i].append(time.time())
            reader.close()
        except Exception as exc:  # noqa: BLE001 - reported by finish()
            self.errors.append(repr(exc))

    def finish(self):
        """Stop, and return (seconds, frames per viewer)."""
        self.stop.set()
        seconds = time.time() - self.began
        for t in self.threads:
            t.join(15)
        assert not self.errors, self.errors
        return seconds, [len(f) for f in self.frames]

    def longest_gap(self):
        """(seconds, when from the start): the longest time a viewer went without a part,
        for a failure's message."""
        gaps = [(b - a, a - self.began) for times in self.arrivals
                for a, b in zip([self.began] + times, times + [time.time()])]
        return max(gaps) if gaps else None


def exchange(port, payload, pieces=1, pause=0.0, half_close=False, timeout=9.0):
    """Send a request (possibly in pieces), then read until the server closes.

    Returns (the status line or b'', seconds until the server closed)."""
    began = time.time()
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    answer = b""
    try:
        size = max(1, len(payload) // pieces) if payload else 1
        for i in range(0, len(payload), size):
            s.sendall(payload[i:i + size])
            time.sleep(pause)
        if half_close:
            s.shutdown(socket.SHUT_WR)
        while len(answer) < 1 << 20:
            data = s.recv(65536)
            if not data:
                break
            answer += data
            if b"multipart/x-mixed-replace" in answer:
                break  # a stream was granted: answered
    except (ConnectionResetError, BrokenPipeError):
        pass
    finally:
        s.close()
    return answer.split(b"\r\n", 1)[0], time.time() - began


HOSTILE = {
    "oversized request line": b"GET /" + b"a" * (1 << 20) + b" HTTP/1.1\r\n\r\n",
    "long url": b"GET /" + b"a" * 2100 + b" HTTP/1.1\r\n\r\n",
    "long header line": b"GET / HTTP/1.1\r\nX-Big: " + b"b" * 3000 + b"\r\n\r\n",
    "header flood": b"GET / HTTP/1.1\r\n" + b"X-A: 1\r\n" * 1000 + b"\r\n",
    "head over 8 KB": b"GET / HTTP/1.1\r\n" + (b"X-C: " + b"c" * 1000 + b"\r\n") * 9 + b"\r\n",
    "33 headers": b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(33)) + b"\r\n",
    "bad method": b"FROB / HTTP/1.1\r\n\r\n",
    "connect": b"CONNECT camera:443 HTTP/1.1\r\n\r\n",
    "trace": b"TRACE / HTTP/1.1\r\n\r\n",
    "no version": b"GET /\r\n\r\n",
    "http/2 version": b"GET / HTTP/2.0\r\n\r\n",
    "garbage version": b"GET / SPDY/x\r\n\r\n",
    "absolute uri": b"GET http://camera/ HTTP/1.1\r\n\r\n",
    "relative path": b"GET stream.jpg HTTP/1.1\r\n\r\n",
    "bad percent-encoding": b"GET /snapshot.jpg?x=%zz%4 HTTP/1.1\r\n\r\n",
    "percent-encoded path": b"GET /%ff%fe%00 HTTP/1.1\r\n\r\n",
    "path traversal": b"GET /../../etc/passwd HTTP/1.1\r\n\r\n",
    "non-utf-8 line": b"GET /\xff\xfe\xfd HTTP/1.1\r\n\r\n",
    "non-utf-8 header": b"GET / HTTP/1.1\r\nX-Name: \xc3\x28\xa0\xa1\r\n\r\n",
    "nul in line": b"GET /\x00 HTTP/1.1\r\n\r\n",
    "nul in header": b"GET / HTTP/1.1\r\nX-N\x00: 1\r\n\r\n",
    "header without colon": b"GET / HTTP/1.1\r\nNoColonHere\r\n\r\n",
    "folded header": b"GET / HTTP/1.1\r\nX-A: 1\r\n  folded\r\n\r\n",
    "bad content-length": b"POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
    "negative content-length": b"POST / HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
    "huge content-length": b"POST / HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n",
    "body never sent": b"POST /snapshot.jpg HTTP/1.1\r\nContent-Length: 500\r\n\r\nabc",
    "empty lines": b"\r\n\r\n\r\n",
    "binary garbage": os.urandom(4096),
    "lone LFs": b"GET / HTTP/1.1\n\n",
    "pipelined": b"GET /snapshot.jpg HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n",
    "silence": b"",
}
SLOW = {
    "slowloris": (b"GET / HTTP/1.1\r\nX-A: " + b"a" * 20, 20, 0.5),  # one piece every 0.5 s
    "half-closed mid-request": (b"GET / HTTP/1.1\r\nHost: x", 1, 0.0),
}


def test_hostile_requests_are_answered_or_closed_while_viewers_stream(start):
    fw = start()
    viewers = Streaming(fw.port, 4)
    time.sleep(0.5)
    outcomes = {}

    def attack(name):
        if name in SLOW:
            payload, pieces, pause = SLOW[name]
            outcomes[name] = exchange(fw.port, payload, pieces, pause,
                                      half_close=name.startswith("half"))
        else:
            outcomes[name] = exchange(fw.port, HOSTILE[name])

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(attack, list(HOSTILE) + list(SLOW)))
    seconds, counts = viewers.finish()
    assert len(outcomes) >= 30
    for name, (status, took) in outcomes.items():
        assert took < 8, "%s: left hanging for %.1f s" % (name, took)
        assert status == b"" or status.startswith(b"HTTP/1.0 "), (name, status)
    statuses = {name: status.split(b" ")[1] if status else b"closed" for name, (status, _) in
                outcomes.items()}
    # eight large heads at once can outgrow a 256 KB heap's free space: then 503, not 431
    refused = (b"431", b"503")
    assert statuses["oversized request line"] in refused + (b"closed",)
    assert statuses["header flood"] in refused and statuses["33 headers"] in refused
    assert statuses["head over 8 KB"] in refused and statuses["long header line"] in refused
    assert list(statuses.values()).count(b"431") >= 3
    assert statuses["nul in header"] == b"400" and statuses["no version"] == b"400"
    assert statuses["huge content-length"] == b"413"
    assert statuses["slowloris"] == b"closed" and outcomes["slowloris"][1] < 7
    for count in counts:
        assert count >= 0.9 * 30 * seconds, (counts, seconds)
    status = fw.status()
    assert status["requests_rejected"] >= 10 and status["requests_timed_out"] >= 2
    assert wait_for(lambda: fw.status()["viewers"] == 0)
    assert fw.get("/snapshot.jpg")[0] == 200
    assert "Traceback" not in fw.console(), fw.console()


BAD_BODY_HEADERS = {
    "negative content-length": b"Content-Length: -1\r\n",
    "non-numeric content-length": b"Content-Length: 12abc\r\n",
    "overflowing content-length": b"Content-Length: 99999999999999999999999\r\n",
    "empty content-length": b"Content-Length:\r\n",
    "two content-lengths": b"Content-Length: 3\r\nContent-Length: 4\r\n",
    "chunked": b"Transfer-Encoding: chunked\r\n",
    "transfer-encoding with a length": b"Transfer-Encoding: gzip\r\nContent-Length: 3\r\n",
}


def test_malformed_body_headers_get_400_at_once(start):
    fw = start()
    for name, header in BAD_BODY_HEADERS.items():
        for method in (b"POST", b"GET"):
            status, took = exchange(fw.port, method + b" /snapshot.jpg HTTP/1.1\r\n" + header +
                                    b"\r\n")
            assert status == b"HTTP/1.0 400 Bad Request" and took < 1, (name, method, status, took)
    same_twice = b"Content-Length: 0\r\nContent-Length: 0\r\n"
    assert exchange(fw.port, b"GET /snapshot.jpg HTTP/1.1\r\n" + same_twice + b"\r\n")[0] \
        == b"HTTP/1.0 200 OK"


def test_viewer_cap_answers_503_while_snapshot_and_page_work(start):
    fw = start(settings={"viewers": {"max": 3}})
    readers = [MjpegReader(fw.port) for _ in range(3)]
    assert all(r.status == 200 for r in readers)
    status, headers, body = fw.get("/stream.jpg")
    assert status == 503 and headers["Retry-After"] and b"Too many viewers" in body
    assert fw.get("/snapshot.jpg")[0] == 200
    assert fw.get("/")[0] == 200
    readers.pop().close()
    assert wait_for(lambda: fw.status()["viewers"] == 2)
    again = MjpegReader(fw.port)
    assert again.status == 200
    again.opening()
    assert again.part()[1][:2] == b"\xff\xd8"
    for r in readers + [again]:
        r.close()


def test_stuck_viewer_is_dropped_and_others_are_unaffected(start):
    fw = start(settings={"viewers": {"stall_timeout_s": 3}})
    stuck = socket.socket()
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.connect(("127.0.0.1", fw.port))
    stuck.sendall(b"GET /stream.jpg HTTP/1.1\r\n\r\n")  # and never reads
    viewers = Streaming(fw.port, 4)
    assert wait_for(lambda: fw.status()["connections_stalled"] == 1, timeout=30), fw.status()
    dropped_after = time.time() - viewers.began
    time.sleep(1)
    seconds, counts = viewers.finish()
    for count in counts:
        assert count >= 0.9 * 30 * seconds, (counts, seconds)
    assert wait_for(lambda: fw.status()["viewers"] == 0)
    stuck.settimeout(5)
    with_eof = b""
    try:
        while True:
            data = stuck.recv(1 << 20)
            if not data:
                break
            with_eof += data
    except ConnectionResetError:
        pass
    stuck.close()
    assert dropped_after < 25


def test_capture_survives_faults_and_a_stall_with_keepalive_frames(start):
    fw = start(env={"SIM_FAULT_RATE": "0.1", "SIM_STALL_AT": "60", "SIM_STALL_S": "5"})
    reader = MjpegReader(fw.port)
    reader.opening()
    parts = []
    began = time.time()
    while time.time() - began < 10:
        headers, jpeg = reader.part()
        parts.append((time.time() - began, seq_of(jpeg), float(headers["x-timestamp"])))
    reader.close()
    seqs = [seq for _, seq, _ in parts]
    assert max(seqs) > 70, "frames resume after the stall"
    repeats = [(t, seq) for (t, seq, _), (_, prev, _) in zip(parts[1:], parts) if seq == prev]
    assert len(repeats) >= 3, "keep-alive frames (the last frame again) during the stall"
    gaps = [b[0] - a[0] for a, b in zip(parts, parts[1:])]
    assert max(gaps) < 2, "a viewer hears from the camera at least about once a second"
    status = fw.status()
    assert status["capture_errors"] >= 5
    assert "capture error" in fw.console()


def test_snapshot_reports_frame_age_during_a_stall(start):
    fw = start(env={"SIM_STALL_AT": "10", "SIM_STALL_S": "6"})
    assert wait_for(lambda: fw.status()["captures"] >= 10)
    time.sleep(2.5)
    status, headers, jpeg = fw.get("/snapshot.jpg")
    assert status == 200 and seq_of(jpeg) == 10
    assert float(headers["X-Frame-Age"]) >= 2


def reset_mid_frame(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"GET /stream.jpg HTTP/1.1\r\n\r\n")
    s.recv(300)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()  # RST while the server is writing the frame


def clean_close(port):
    reader = MjpegReader(port)
    assert reader.status == 200  # a closed viewer's slot is free at once
    reader.opening()
    reader.part()
    reader.close()


def head_request(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"HEAD /stream.jpg HTTP/1.1\r\n\r\n")
    assert s.recv(4096).startswith(b"HTTP/1.0 ")
    s.close()


def test_soak_1000_cycles_leave_no_viewer_socket_or_heap_behind(start):
    fw = start()
    kinds = (clean_close, reset_mid_frame, head_request)
    with ThreadPoolExecutor(4) as pool:  # 4 at a time, under the cap of 8: never a 503
        # warm up with as many cycles, 4 at a time too: first-use allocations (tables grown
        # for the most connections seen at once, about 2 KB, reached within the first
        # thousand) are not leaks; a leak grows again with the next thousand
        list(pool.map(lambda i: kinds[i % 3](fw.port), range(1000)))
        assert wait_for(lambda: fw.status()["viewers"] == 0)
        time.sleep(0.5)
        fds = fw.fds()
        before = fw.status()
        heap = resting_heap(fw)
        list(pool.map(lambda i: kinds[i % 3](fw.port), range(1000)))
    assert wait_for(lambda: fw.status()["viewers"] == 0)
    assert wait_for(lambda: fw.fds() <= fds, timeout=5), (fds, fw.fds())
    after = fw.status()
    assert after["viewers_served"] - before["viewers_served"] == 1000, (before, after)  # HEAD too
    assert after["connections_turned_away"] == before["connections_turned_away"]
    # under 4 bytes a cycle: a leaked socket, task or buffer a cycle would be hundreds; a
    # table grown once more, or a block the conservative collector still sees on the C
    # stack, is a few hundred bytes once (2432 seen once)
    assert abs(resting_heap(fw) - heap) <= 4096, (heap, resting_heap(fw))
    assert "MemoryError" not in fw.console()


def resting_heap(fw):
    """The heap in use between frames: the least of a few readings (one may catch the capture
    loop holding a frame's temporary objects)."""
    return min(fw.status()["heap_used"] for _ in range(3))
