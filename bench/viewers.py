"""Benchmark client: N MJPEG viewers in one process, one socket each, over real sockets.

Usage: python bench/viewers.py PORT VIEWERS SECONDS
Prints one JSON line: frames per viewer, latency samples (ms), failures.
"""
import json
import selectors
import socket
import sys
import time

REQUEST = b"GET /stream.jpg HTTP/1.1\r\nHost: camera\r\n\r\n"


class Viewer:
    """Parses one multipart stream incrementally; records each part's capture-to-arrival time."""

    def __init__(self, port):
        self.sock = socket.socket()
        self.sock.setblocking(False)
        self.sock.connect_ex(("127.0.0.1", port))  # completes when writable: see connected()
        self.connected = False
        self.buf = bytearray()
        self.head_done = False
        self.frames = 0
        self.latencies = []
        self.closed = False

    def connect(self):
        """The socket became writable: connected (send the request) or refused."""
        if self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
            self.closed = True
        else:
            self.sock.send(REQUEST)
            self.connected = True

    def feed(self, now_ms, record):
        try:
            data = self.sock.recv(1 << 18)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.closed = True
            return
        self.buf += data
        self._parse(now_ms, record)

    def _parse(self, now_ms, record):
        buf = self.buf
        if not self.head_done:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if not buf.startswith(b"HTTP/1.0 200"):
                self.closed = True
                return
            del buf[:end + 4 + len(b"--frame\r\n")]
            self.head_done = True
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buf[:end])
            length = stamp = None
            for line in head.split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name == b"Content-Length":
                    length = int(value)
                elif name == b"X-Timestamp":
                    stamp = float(value)
            total = end + 4 + length + len(b"\r\n--frame\r\n")
            if len(buf) < total:
                return
            del buf[:total]
            self.frames += 1
            if record:
                self.latencies.append(now_ms - stamp * 1000)


def run(port, count, seconds, settle=10.0):
    """Connect `count` viewers; once every one has had a frame (or `settle` s have passed),
    count frames and latencies for `seconds`."""
    sel = selectors.DefaultSelector()
    viewers = []
    for _ in range(count):  # all at once: a server that accepts slowly is not waited for
        viewer = Viewer(port)
        viewers.append(viewer)
        sel.register(viewer.sock, selectors.EVENT_WRITE, viewer)
    start = time.time()
    counts_at = measured_from = None
    while measured_from is None or time.time() < measured_from + seconds:
        if measured_from is None and (all(v.frames or v.closed for v in viewers)
                                      or time.time() > start + settle):
            measured_from = time.time()
            counts_at = [v.frames for v in viewers]
        for key, _ in sel.select(timeout=0.2):
            viewer = key.data
            if not viewer.connected:
                viewer.connect()
                sel.modify(viewer.sock, selectors.EVENT_READ, viewer)
            elif not viewer.closed:
                viewer.feed(time.time() * 1000, counts_at is not None)
            if viewer.closed:
                sel.unregister(viewer.sock)
    frames = [v.frames - c for v, c in zip(viewers, counts_at)]
    latencies = [x for v in viewers for x in v.latencies]
    failed = sum(v.closed or not v.head_done for v in viewers)
    for v in viewers:
        v.sock.close()
    return {"frames": frames, "seconds": seconds, "latencies_ms": latencies, "failed": failed,
            "settled_after_s": measured_from - start}


if __name__ == "__main__":
    print(json.dumps(run(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]))))
