"""The firmware on the boards' network stack: viewers, their rates, the capture rate and the
VM's time blocked in modlwip's ERR_MEM waits, against one raw lwIP sender on the same link;
RTSP viewers (one and two over TCP, on a board's heap: packets without a wire buffer; one and
four over UDP); and what one more viewer costs, MJPEG against RTSP over TCP and over UDP.

    python bench/board_stack.py                                   (the table, written to results/)
    python bench/board_stack.py PROFILE VIEWERS RATE DELAY SECONDS   (one row; - for no shaping)
"""
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
import boardstack  # noqa: E402
from firmware import Counter, Firmware, rtsp_settings, wait_for  # noqa: E402

STACKS = {"8000": "8000-byte heap", "n6": "N6, 64 KB"}
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


def raw_rate(net, profile, seconds):
    """KB/s of one raw lwIP sender writing as fast as the stack takes it."""
    import socket
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


@contextmanager
def namespace(rate=None, delay=None):
    """A network namespace of its own (BoardNet), which this thread enters until the end."""
    net = boardstack.BoardNet(rate, delay)
    net.enter()
    try:
        yield net
    finally:
        net.close()


@contextmanager
def firmware(net, profile, settings):
    """The firmware on `profile`'s stack, on the namespace's next TUN device; stopped at the
    end (its console then has the stack's summary of ERR_MEM waits)."""
    env, host = net.board_env()
    with tempfile.TemporaryDirectory() as tmp:
        fw = Firmware(tmp, interpreter=boardstack.interpreter(profile), env=env, address=host,
                      settings=settings)
        try:
            yield fw, host
        finally:
            fw.stop()


def run(profile, viewers, rate, delay, seconds=15, settings=None):
    with namespace(rate, delay) as net:
        raw = raw_rate(net, profile, 5)
        with firmware(net, profile, dict(settings or {}, viewers={"max": viewers})) as (fw, host):
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
            # the viewers' connections end at their next write: until then a 503
            wait_for(lambda: fw.get("/status.json")[0] == 200, 10)
            status = fw.status()
    return {"profile": profile, "viewers": viewers, "link": rate or "unshaped", "delay": delay,
            "fps_min": min(fps), "fps_each": fps, "capture_fps": capture, "cpu": cpu,
            "kbps": total, "raw_kbps": raw, "blocked_ms": boardstack.blocked(fw.lines)[0],
            "errors": errors, "refused": status.get("connections_turned_away"),
            "stack": status["link"]}


def rtsp_run(profile, transport="tcp", sessions=1, seconds=10):
    """RTSP viewers (`transport` as rtsp_clients.py takes it), on an unshaped link: the same
    figures as run()'s, the slowest viewer's fps."""
    rtsp = rtsp_settings()
    with namespace() as net, firmware(net, profile, {"rtsp": rtsp}) as (fw, host):
        with ThreadPoolExecutor(1) as pool:  # its process inherits the namespace
            job = pool.submit(subprocess.run, [
                sys.executable, os.path.join(HERE, "rtsp_clients.py"), host, str(rtsp["port"]),
                transport, str(sessions), str(seconds + 3)],
                capture_output=True, text=True, timeout=seconds + 60)
            time.sleep(2)
            captures, cpu, began = fw.status()["captures"], fw.cpu_seconds(), time.time()
            time.sleep(seconds)
            took = time.time() - began
            cpu = (fw.cpu_seconds() - cpu) / took
            capture = (fw.status()["captures"] - captures) / took
            result = json.loads(job.result().stdout)
    return {"profile": profile, "link": "unshaped",
            "kind": "RTSP/" + transport.split("-")[0].upper(), "viewers": sessions,
            "fps": min(result["frames"]) / result["seconds"],
            "fps_each": [n / result["seconds"] for n in result["frames"]],
            "capture_fps": capture, "kbps": sum(result["bytes"]) / result["seconds"] / 1024,
            "cpu": cpu, "blocked_ms": boardstack.blocked(fw.lines)[0]}


def table():
    why = boardstack.missing()
    if why:
        print("board stack: skipped (%s)" % why)
        return
    rows = [run(profile, viewers, rate, delay, 10)
            for profile in ("8000", "n6") for rate, delay in ((None, None), ("10mbit", "3ms"))
            for viewers in (1, 2, 4)]
    write(rows, [rtsp_run(profile, transport, sessions) for profile in ("8000", "n6")
                 for transport, sessions in (("tcp", 1), ("tcp", 2), ("udp-detached", 1),
                                             ("udp-detached", 4))])


def one_more(rows, profile, kind, few, many):
    """CPU µs that one more viewer of `kind` costs a frame it is sent, between `few` and
    `many` of them (unshaped): the CPU added over the frames added (each viewer's own rate,
    which on a small stack can be under the capture's)."""
    row = dict((r["viewers"], r) for r in rows if r["profile"] == profile and
               r.get("kind", "MJPEG") == kind and r["link"] == "unshaped" and not r.get("delay"))
    frames = sum(row[many]["fps_each"]) - sum(row[few]["fps_each"])
    return (row[many]["cpu"] - row[few]["cpu"]) / frames * 1e6


def write(rows, rtsp_rows):
    """The table of `rows`, printed and written to results/ (with the rows)."""
    out = os.path.join(HERE, "results")
    with open(os.path.join(out, "board_stack.json"), "w") as f:
        json.dump({"mjpeg": rows, "rtsp": rtsp_rows}, f, indent=1)
    lines = ["| stack | link | viewers | fps each (min) | capture fps | KB/s | raw lwIP KB/s | "
             "share | VM held in ERR_MEM waits (ms, in about 12 s) | refused | CPU |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append("| %s | %s | %d | %.1f | %.1f | %.0f | %.0f | %.0f%% | %s | %s | %.0f%% |" % (
            STACKS[r["profile"]], "%s + %s" % (r["link"], r["delay"]) if r["delay"] else
            r["link"], r["viewers"], r["fps_min"], r["capture_fps"], r["kbps"], r["raw_kbps"],
            100 * r["kbps"] / r["raw_kbps"], r["blocked_ms"], r["refused"], 100 * r["cpu"]))
    lines += ["", "| stack | link | viewer | viewers | fps each (min) | capture fps | KB/s | "
              "VM held in ERR_MEM waits (ms) | CPU |", "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rtsp_rows:
        lines.append("| %s | %s | %s | %d | %.1f | %.1f | %.0f | %s | %.0f%% |" % (
            STACKS[r["profile"]], r["link"], r["kind"], r["viewers"], r["fps"],
            r["capture_fps"], r["kbps"], r["blocked_ms"], 100 * r["cpu"]))
    lines += ["", "| stack | one more MJPEG viewer (1 to 2), CPU µs a frame it is sent | "
              "one more RTSP/TCP viewer (1 to 2) | one more RTSP/UDP viewer (1 to 4) |",
              "|---|---:|---:|---:|"]
    for profile in STACKS:
        lines.append("| %s | %.0f | %.0f | %.0f |" % (
            STACKS[profile], one_more(rows, profile, "MJPEG", 1, 2),
            one_more(rtsp_rows, profile, "RTSP/TCP", 1, 2),
            one_more(rtsp_rows, profile, "RTSP/UDP", 1, 4)))
    text = "\n".join(lines)
    with open(os.path.join(out, "board_stack.md"), "w") as f:
        f.write(text + "\n")
    print(text)

if __name__ == "__main__":
    if len(sys.argv) > 1:
        args = sys.argv[1:]
        print(json.dumps(run(args[0], int(args[1]), args[2] if args[2] != "-" else None,
                             args[3] if args[3] != "-" else None, int(args[4]))))
    else:
        table()
