"""Drive the firmware image under the real MicroPython interpreter, and read it as clients do."""
import json
import os
import re
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGE = os.path.join(ROOT, "build", "image")
TESTCARD = os.path.join(ROOT, "build", "testcard")
MICROPYTHON = os.path.join(ROOT, ".venv", "bin", "micropython")
BOUNDARY = b"--frame"
SEQ = re.compile(rb"\xff\xfe\x00\x0eseq=(\d{8})")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Firmware:
    """One MicroPython process running build/image/main.py with the simulated camera."""

    def __init__(self, workdir, heap="256K", settings=None, env=None, image=IMAGE, script=None):
        self.port = free_port()
        self.lines = []
        cfg = {"port": self.port}
        cfg.update(settings or {})
        with open(os.path.join(workdir, "settings.json"), "w") as f:
            json.dump(cfg, f)
        environ = dict(os.environ)
        environ.update({
            "MICROPYPATH": "%s/lib:%s/host:%s:.frozen" % (image, ROOT, image),
            "SIM_TESTCARD": TESTCARD,
            "SIM_FPS": "30",
        })
        environ.update(env or {})
        self.proc = subprocess.Popen(
            [MICROPYTHON, "-X", "heapsize=" + heap, script or os.path.join(image, "main.py")],
            cwd=workdir, env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.serving = False
        self.ready = threading.Event()  # set when it serves, or when its console ends
        threading.Thread(target=self._read_console, daemon=True).start()
        self.ready.wait(20)
        if not self.serving:
            self.stop()
            raise RuntimeError("firmware did not start:\n" + self.console())

    def _read_console(self):
        for raw in self.proc.stdout:
            line = raw.decode(errors="replace").rstrip()
            self.lines.append(line)
            if "serving http://" in line:
                self.serving = True
                self.ready.set()
        self.ready.set()

    def console(self):
        return "\n".join(self.lines)

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def get(self, path, method="GET", timeout=10):
        """(status, headers, body) of one request."""
        req = urllib.request.Request(self.url + path, method=method)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as res:
                return res.status, res.headers, res.read()
        except urllib.error.HTTPError as err:
            return err.code, err.headers, err.read()

    def status(self, timeout=10):
        return json.loads(self.get("/status.json", timeout=timeout)[2])

    def cpu_seconds(self):
        """CPU time the firmware process has used, to the nanosecond (the scheduler's count)."""
        tasks = "/proc/%d/task" % self.proc.pid
        total = 0
        for task in os.listdir(tasks):
            with open("%s/%s/schedstat" % (tasks, task)) as f:
                total += int(f.read().split()[0])
        return total / 1e9

    def fds(self):
        return len(os.listdir("/proc/%d/fd" % self.proc.pid))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class MjpegReader:
    """A viewer: reads /stream.jpg over a raw socket and checks the multipart framing."""

    def __init__(self, port, rcvbuf=None, path="/stream.jpg"):
        self.sock = socket.socket()
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(10)
        self.sock.connect(("127.0.0.1", port))
        self.sock.sendall(b"GET %s HTTP/1.1\r\nHost: camera\r\n\r\n" % path.encode())
        self.buf = b""
        self.status = int(self._line().split()[1])
        self.headers = self._headers()

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("stream closed")
        self.buf += data

    def _take(self, n):
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode()

    def _headers(self):
        """Header lines up to the blank one, by lower-case name."""
        headers = {}
        while True:
            line = self._line()
            if not line:
                return headers
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()

    def opening(self):
        """The body must open with the boundary line, straight after the headers."""
        assert self._take(len(BOUNDARY) + 2) == BOUNDARY + b"\r\n"

    def part(self):
        """(headers, jpeg) of the next part, checking its closing boundary arrives with it."""
        headers = self._headers()
        jpeg = self._take(int(headers["content-length"]))
        assert self._take(len(BOUNDARY) + 4) == b"\r\n" + BOUNDARY + b"\r\n"
        return headers, jpeg

    def close(self):
        self.sock.close()


def seq_of(jpeg):
    """The simulated sensor's sequence number stamped in a frame."""
    match = SEQ.search(jpeg[:64])
    return int(match.group(1)) if match else None


def wait_for(predicate, timeout=10, interval=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()
