"""Drive the firmware image under the real MicroPython interpreter, and read it as clients do."""
import json
import os
import re
import selectors
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGE = os.path.join(ROOT, "build", "image")
TESTCARD = os.path.join(ROOT, "build", "testcard")
HOST = os.path.join(ROOT, "host")
HEAP = "296K"  # the default heap, as make run's (Makefile): docs/reliability.md, "What the default heap stands for"
MICROPYTHON = os.path.join(ROOT, ".venv", "bin", "micropython")
BOUNDARY = b"--frame"
SEQ = re.compile(rb"\xff\xfe\x00\x0eseq=(\d{8})")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_udp_pair():
    """An even UDP port whose next one is free too: RTP and RTCP."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("0.0.0.0", 0))
            port = s.getsockname()[1] & ~1
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as a, \
                    socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as b:
                a.bind(("0.0.0.0", port))
                b.bind(("0.0.0.0", port + 1))
                return port
        except OSError:
            continue


def rtsp_settings():
    """An `rtsp` settings object on free ports."""
    return {"port": free_port(), "rtp_port": free_udp_pair()}


class Firmware:
    """One MicroPython process running the image's main.py with the simulated camera.

    `workdir` stands for the board's /flash: main.py and boot.py (or `script`) are copied
    there beside settings.json and, given `vision` (its source), vision.py, so the script's
    folder comes first on sys.path as '' (the flash) does on the board. The image's lib/,
    the host stand-ins and the test card are linked into it and named by relative paths:
    nothing of the checkout's path reaches the interpreter's heap (module names, sys.path),
    so a clone in any folder runs with the same heap.
    """

    def __init__(self, workdir, heap=HEAP, settings=None, env=None, image=IMAGE, script=None,
                 vision=None, preexec=None, interpreter=MICROPYTHON, host=HOST,
                 testcard=TESTCARD, address="127.0.0.1"):
        self.workdir = workdir
        self.address = address  # where clients reach it: loopback, or a board stack's TUN
        self.port = free_port()
        self.lines = []
        cfg = {"port": self.port}
        cfg.update(settings or {})
        with open(os.path.join(workdir, "settings.json"), "w") as f:
            json.dump(cfg, f)
        for path in (os.path.join(image, "main.py"), os.path.join(image, "boot.py"), script):
            if path and os.path.exists(path):
                shutil.copy(path, workdir)
        if vision is not None:
            with open(os.path.join(workdir, "vision.py"), "w") as f:
                f.write(vision)
        for name, target in (("lib", os.path.join(image, "lib")), ("host", host),
                             ("testcard", testcard)):
            os.symlink(target, os.path.join(workdir, name))
        module = os.path.basename(script or "main.py")[:-3]  # run as -m: '' first on sys.path
        environ = dict(os.environ)
        environ.update({"MICROPYPATH": "lib:host:.frozen", "SIM_TESTCARD": "testcard",
                        "SIM_FPS": "30"})
        environ.update(env or {})
        self._launch = lambda: subprocess.Popen(
            [interpreter, "-X", "heapsize=" + heap, "-m", module], cwd=workdir, env=environ,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, preexec_fn=preexec)
        self.start()

    def start(self):
        """Start (or, after stop, restart: a reboot) the firmware; wait until it serves."""
        since = len(self.lines)
        self.proc = self._launch()
        ready = threading.Event()  # set when it serves, or when its console ends
        self.reader = threading.Thread(target=self._read_console, args=(self.proc, ready),
                                       daemon=True)
        self.reader.start()
        ready.wait(20)
        if not any("serving http://" in line for line in self.lines[since:]):
            self.stop()
            raise RuntimeError("firmware did not start:\n" + self.console())

    def _read_console(self, proc, ready):
        for raw in proc.stdout:
            line = raw.decode(errors="replace").rstrip()
            self.lines.append(line)
            if "serving http://" in line:
                ready.set()
        ready.set()

    def console(self):
        return "\n".join(self.lines)

    @property
    def url(self):
        return "http://%s:%d" % (self.address, self.port)

    def get(self, path, method="GET", timeout=10):
        """(status, headers, body) of one request."""
        req = urllib.request.Request(self.url + path, method=method)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as res:
                return res.status, res.headers, res.read()
        except urllib.error.HTTPError as err:
            return err.code, err.headers, err.read()

    def post(self, path, body, content_type="application/json", timeout=10, headers=None):
        """(status, text) of a POST."""
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method="POST",
                                     headers=dict(headers or {}, **{"Content-Type": content_type}))
        try:
            with urllib.request.urlopen(req, timeout=timeout) as res:
                return res.status, res.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()

    def status(self, timeout=10):
        """/status.json; a 503 (every connection taken, the last viewers' not yet closed) is
        asked again, as its Retry-After says, until `timeout`."""
        deadline = time.time() + timeout
        while True:
            code, headers, body = self.get("/status.json", timeout=timeout)
            if code != 503 or time.time() > deadline:
                return json.loads(body)
            time.sleep(min(float(headers.get("Retry-After", 1)), 0.5))

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
        self.reader.join(5)  # its console read to the end, before any restart


class MjpegReader:
    """A viewer: reads /stream.jpg over a raw socket and checks the multipart framing."""

    def __init__(self, port, rcvbuf=None, path="/stream.jpg", headers=None, host="127.0.0.1"):
        self.sock = socket.socket()
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(10)
        self.sock.connect((host, port))
        more = "".join("%s: %s\r\n" % item for item in (headers or {}).items())
        self.sock.sendall(b"GET %s HTTP/1.1\r\nHost: camera\r\n%s\r\n" % (path.encode(),
                                                                          more.encode()))
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


def in_threads(target, count, timeout=30):
    """Run target(0) ... target(count - 1) at once, each in its own thread; wait for all."""
    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)


def wait_for(predicate, timeout=10, interval=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


def first_parts(port, count, timeout=20, host="127.0.0.1"):
    """Open `count` stream requests at once and keep them open; (seconds until each had its
    status line and, for a 200, its first whole part, by status, b"closed" for one closed or
    reset unanswered), and those left unanswered."""
    sel = selectors.DefaultSelector()
    began = time.time()
    for _ in range(count):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex((host, port))
        sel.register(s, selectors.EVENT_WRITE, {"buf": b"", "sent": False})
    done = {}
    answered = []
    while sel.get_map() and time.time() - began < timeout:
        for key, _ in sel.select(0.5):
            s, state = key.fileobj, key.data
            try:
                if not state["sent"]:
                    s.send(b"GET /stream.jpg HTTP/1.1\r\n\r\n")
                    state["sent"] = True
                    sel.modify(s, selectors.EVENT_READ, state)
                    continue
                data = s.recv(65536)
            except OSError:  # refused or reset: turned away, as a close is
                data = b""
            state["buf"] += data
            buf = state["buf"]
            status = buf[9:12] if len(buf) >= 12 else b""
            part_end = _first_part_end(buf)
            if status and (status != b"200" or part_end) or not data:
                done.setdefault(status or b"closed", []).append(time.time() - began)
                sel.unregister(s)
                answered.append(s)
    left = len(sel.get_map())
    for s in answered + [key.fileobj for key in sel.get_map().values()]:
        s.close()
    return done, left


def _first_part_end(buf):
    head = buf.find(b"\r\n\r\n--frame\r\n")
    if head < 0:
        return None
    part = buf.find(b"\r\n\r\n", head + 13)
    if part < 0:
        return None
    headers = buf[head + 13:part].decode(errors="replace").lower()
    length = int(headers.split("content-length:")[1].split("\r\n")[0])
    end = part + 4 + length + 2
    return end if len(buf) >= end else None


def chromium():
    """Debian's headless Chromium under chromedriver, with a profile of its own: (driver,
    the profile's folder). It reaches what the calling thread's network reaches."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    profile = tempfile.mkdtemp()
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--user-data-dir=" + profile):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options), \
        profile


class Counter(threading.Thread):
    """A viewer counting whole, well-formed parts."""

    def __init__(self, host, port, rcvbuf=None):
        super().__init__(daemon=True)
        self.host, self.port, self.rcvbuf = host, port, rcvbuf
        self.frames = 0
        self.bytes = 0
        self.seq = 0  # the newest frame's sequence number
        self.error = None
        self.stop = threading.Event()
        self.start()

    def run(self):
        try:
            reader = MjpegReader(self.port, host=self.host, rcvbuf=self.rcvbuf)
            reader.opening()
            while not self.stop.is_set():
                _, jpeg = reader.part()
                assert jpeg[:2] == b"\xff\xd8" and jpeg[-2:] == b"\xff\xd9", "a corrupted part"
                self.frames += 1
                self.bytes += len(jpeg)
                self.seq = max(self.seq, seq_of(jpeg) or 0)
            reader.close()
        except Exception as exc:  # noqa: BLE001 - reported
            self.error = exc
