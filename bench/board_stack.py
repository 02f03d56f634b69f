"""The firmware on the boards' network stack: viewers, their rates, the capture rate and the
VM's time blocked in modlwip's ERR_MEM waits, against one raw lwIP sender in the same link.

    python bench/board_stack.py [PROFILE VIEWERS RATE DELAY SECONDS]   (one row)
"""
import json
import os
import re
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
import boardstack  # noqa: E402
from firmware import Firmware, MjpegReader, seq_of  # noqa: E402

RAW_SENDER = """
import socket, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 9000))
s.listen(1)
print("ready")
c, _ = s.accept()
c.setblocking(True)
block = bytes(6400)
try:
    while True:
        c.write(block)
except OSError:
    pass
"""


class Counter(threading.Thread):
    """A viewer counting whole, well-formed parts."""

    def __init__(self, host, port):
        super().__init__(daemon=True)
        self.host, self.port = host, port
        self.frames = 0
        self.bytes = 0
        self.seq = 0  # the newest frame's sequence number
        self.error = None
        self.stop = threading.Event()
        self.start()

    def run(self):
        try:
            reader = MjpegReader(self.port, host=self.host)
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


def blocked_ms(lines):
    """The VM's total time in modlwip's ERR_MEM waits, from the stack's exit summary."""
    for line in reversed(lines):
        match = re.search(r"VM blocked in them (\d+) ms total", line)
        if match:
            return int(match.group(1))
    return None


def raw_rate(net, profile, seconds):
    """KB/s of one raw lwIP sender writing as fast as the stack takes it."""
    import socket
    import subprocess
    env, host = net.board_env()
    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, "raw.py")
        with open(script, "w") as f:
            f.write(RAW_SENDER)
        proc = subprocess.Popen([boardstack.interpreter(profile), script],
                                env=dict(os.environ, **env), stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL)
        proc.stdout.readline()
        s = socket.create_connection((host, 9000), timeout=10)
        s.recv(65536)
        got = 0
        began = time.time()
        while time.time() - began < seconds:
            got += len(s.recv(65536))
        took = time.time() - began
        s.close()
        proc.kill()
        proc.wait()
    return got / took / 1024


def run(profile, viewers, rate, delay, seconds=15, settings=None):
    settings = dict(settings or {}, viewers={"max": viewers})
    net = boardstack.BoardNet(rate, delay)
    net.enter()
    try:
        raw = raw_rate(net, profile, 5)
        env, host = net.board_env()
        with tempfile.TemporaryDirectory() as tmp:
            fw = Firmware(tmp, interpreter=boardstack.interpreter(profile), env=env,
                          address=host, settings=settings)
            try:
                counters = [Counter(host, fw.port) for _ in range(viewers)]
                time.sleep(2)
                before = [c.frames for c in counters], [c.bytes for c in counters]
                seq = max(c.seq for c in counters)
                cpu = fw.cpu_seconds()
                began = time.time()
                time.sleep(seconds)
                took = time.time() - began
                fps = [(c.frames - b) / took for c, b in zip(counters, before[0])]
                total = sum(c.bytes - b for c, b in zip(counters, before[1])) / took / 1024
                capture = (max(c.seq for c in counters) - seq) / took
                cpu = (fw.cpu_seconds() - cpu) / took
                for c in counters:
                    c.stop.set()
                for c in counters:
                    c.join(5)
                errors = [repr(c.error) for c in counters if c.error]
                status = fw.status()
            finally:
                fw.stop()
            return {"profile": profile, "viewers": viewers, "link": rate or "unshaped",
                    "delay": delay, "fps_min": min(fps), "fps_each": fps,
                    "capture_fps": capture, "cpu": cpu, "kbps": total, "raw_kbps": raw,
                    "blocked_ms": blocked_ms(fw.lines), "errors": errors,
                    "refused": status.get("connections_turned_away"), "link": status["link"]}
    finally:
        net.close()


if __name__ == "__main__":
    args = sys.argv[1:] or ["8000", "2", "10mbit", "3ms", "15"]
    row = run(args[0], int(args[1]), args[2] if args[2] != "-" else None,
              args[3] if args[3] != "-" else None, int(args[4]))
    print(json.dumps(row))
