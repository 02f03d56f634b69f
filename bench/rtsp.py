"""RTSP's fan-out beside MJPEG's, in the same run: the firmware with the simulated sensor at
30 fps, 1, 10 and 50 viewers of each kind (MJPEG, RTSP over TCP, RTSP over UDP) driven from a
separate process; frames a second per viewer, the firmware's CPU per viewer-frame, and what
one more viewer costs (from 10 to 50). Beside them, GStreamer's RTSP server (C: rtpjpegpay,
shared media) serving the test card's frames at 30 fps to the same clients, when Debian's
gir1.2-gst-rtsp-server-1.0 and python3-gi are installed. One server process serves each
kind: 1 viewer, then 10 and 50 REPEATS times, every server measured in turn in each round;
the CPU figure is the median. A round measures every server within 81 s, so the
differences between servers are also given round by round (the machine's load varies less
within a round than between rounds).

Writes bench/results/rtsp.{md,json} and docs/performance.md's table.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests"))
from firmware import TESTCARD, Firmware, free_port, rtsp_settings  # noqa: E402
from run import clients as mjpeg_clients, progress, publish  # noqa: E402

VIEWERS = (1, 10, 50)
REPEATS = 5
SECONDS = 8
GST_SERVER = """
import glob, sys, gi
gi.require_version("Gst", "1.0"); gi.require_version("GstRtspServer", "1.0")
from gi.repository import Gst, GstRtspServer, GLib
Gst.init(None)
frames = [open(p, "rb").read() for p in sorted(glob.glob(sys.argv[2] + "/QVGA-q85/*.jpg"))]
server = GstRtspServer.RTSPServer(service=sys.argv[1])
factory = GstRtspServer.RTSPMediaFactory()
factory.set_launch("( appsrc name=src is-live=true format=time "
                   "caps=image/jpeg,width=320,height=240,framerate=30/1 ! jpegparse ! "
                   "rtpjpegpay name=pay0 pt=26 )")
factory.set_shared(True)

def configure(factory, media):
    src, sent = media.get_element().get_child_by_name("src"), [0]
    def push():  # the test card's frames at 30 fps, as the sensor gives them
        buf = Gst.Buffer.new_wrapped(frames[sent[0] % len(frames)])
        buf.pts = buf.dts = sent[0] * Gst.SECOND // 30
        buf.duration = Gst.SECOND // 30
        sent[0] += 1
        src.emit("push-buffer", buf)
        return True
    GLib.timeout_add(33, push)

factory.connect("media-configure", configure)
server.get_mount_points().add_factory("/stream", factory)
server.attach(None)
print("ready", flush=True)
GLib.MainLoop().run()
"""


def cpu_seconds(pid):
    """CPU time of a process, all its threads, from the scheduler's count."""
    total = 0
    for task in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/schedstat" % (pid, task)) as f:
            total += int(f.read().split()[0])
    return total / 1e9


def rtsp_clients(port, transport, viewers, seconds):
    out = subprocess.run([sys.executable, os.path.join(HERE, "rtsp_clients.py"), "127.0.0.1",
                          str(port), transport, str(viewers), str(seconds)], capture_output=True,
                         text=True, timeout=seconds + 60)
    if out.returncode:
        raise RuntimeError(out.stderr)
    return json.loads(out.stdout)


def measure(pid, drive):
    """Drive the viewers; (fps of the slowest, CPU µs per viewer-frame)."""
    with ThreadPoolExecutor(1) as pool:
        job = pool.submit(drive)
        time.sleep(2)  # they connect and get going
        cpu0, t0 = cpu_seconds(pid), time.time()
        time.sleep(SECONDS - 3)
        cpu1, t1 = cpu_seconds(pid), time.time()
        result = job.result()
    rates = [f / result["seconds"] for f in result["frames"]]
    delivered = sum(rates) * (t1 - t0)
    return min(rates), (cpu1 - cpu0) * 1e6 / delivered


def series(servers):
    """Rows for 1, 10 and 50 viewers of each (server, kind, pid, drive): the slowest viewer's
    fps over every run, the median of the CPU figures. Each round measures every server in
    turn, so that a busy spell of the machine falls on all of them."""
    runs = {(server, kind): {n: [] for n in VIEWERS} for server, kind, _, _ in servers}
    for viewers in VIEWERS[:1] + VIEWERS[1:] * REPEATS:
        for server, kind, pid, drive in servers:
            progress("%s %s, %d viewers ..." % (server, kind, viewers))
            runs[server, kind][viewers].append(measure(pid, lambda: drive(viewers)))
    return [{"server": server, "kind": kind, "viewers": n,
             "fps_min": min(r[0] for r in runs[server, kind][n]),
             "cpu_us_per_viewer_frame": statistics.median(r[1] for r in runs[server, kind][n]),
             "cpu_us_per_viewer_frame_by_round": [r[1] for r in runs[server, kind][n]]}
            for server, kind, _, _ in servers for n in VIEWERS]


def firmware(kind, stops):
    """(server, kind, pid, drive) of a firmware serving `kind`; `stops` gets its stop."""
    rtsp = rtsp_settings()
    fw = Firmware(tempfile.mkdtemp(), heap="16M", env={"SIM_FPS": "30"}, settings={
        "viewers": {"max": max(VIEWERS) + 2}, "camera": {"idle_fps": 0}, "rtsp": rtsp})
    stops.append(fw.stop)
    drive = (lambda n: mjpeg_clients(fw.port, n, SECONDS)) if kind == "MJPEG" else \
        (lambda n: rtsp_clients(rtsp["port"], kind[5:].lower(), n, SECONDS))
    return "firmware", kind, fw.proc.pid, drive


PYTHON = "/usr/bin/python3"  # Debian's, with python3-gi


def gstreamer_installed():
    probe = subprocess.run([PYTHON, "-c", "import gi; gi.require_version('GstRtspServer', "
                            "'1.0'); from gi.repository import GstRtspServer"],
                           capture_output=True)
    if probe.returncode:
        progress("GStreamer's RTSP server: not installed (gir1.2-gst-rtsp-server-1.0): skipped")
    return not probe.returncode


def gstreamer(transport, stops):
    """(server, kind, pid, drive) of GStreamer's RTSP server, the clients on `transport`."""
    port = free_port()
    server = subprocess.Popen([PYTHON, "-c", GST_SERVER, str(port), TESTCARD],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stops.append(lambda: (server.kill(), server.wait()))
    assert server.stdout.readline() == b"ready\n", server.stderr.read()
    return "GStreamer (C)", "RTSP/" + transport.upper(), server.pid, \
        lambda n: rtsp_clients(port, transport, n, SECONDS)


def one_more(rows, server, kind):
    """CPU of one more viewer, from 10 viewers to 50 (µs per frame), in each round."""
    at = {r["viewers"]: r["cpu_us_per_viewer_frame_by_round"] for r in rows
          if r["server"] == server and r["kind"] == kind}
    return [(50 * high - 10 * low) / 40 for low, high in zip(at[10], at[50])]


def table(rows):
    lines = ["| server | transport | viewers | fps of the slowest | CPU µs/viewer-frame |",
             "| --- | --- | ---: | ---: | ---: |"]
    lines += ["| %s | %s | %d | %.1f | %.0f |" % (r["server"], r["kind"], r["viewers"],
                                                   r["fps_min"], r["cpu_us_per_viewer_frame"])
              for r in rows]
    lines += ["", "| server | transport | one more viewer (10 to 50), CPU µs per frame: "
              "median of the rounds | lowest round | highest round |",
              "| --- | --- | ---: | ---: | ---: |"]
    for server, kind in sorted({(r["server"], r["kind"]) for r in rows}):
        costs = one_more(rows, server, kind)
        lines.append("| %s | %s | %.1f | %.1f | %.1f |" % (
            server, kind, statistics.median(costs), min(costs), max(costs)))
    lines += ["", "| transport | one more firmware viewer, less one more of: | median of the "
              "rounds' differences | lowest round | highest round |",
              "| --- | --- | ---: | ---: | ---: |"]
    for kind, other in (("RTSP/TCP", ("firmware", "MJPEG")), ("RTSP/UDP", ("firmware", "MJPEG")),
                        ("RTSP/TCP", ("GStreamer (C)", "RTSP/TCP")),
                        ("RTSP/UDP", ("GStreamer (C)", "RTSP/UDP"))):
        if any((r["server"], r["kind"]) == other for r in rows):
            gaps = [mine - theirs for mine, theirs in
                    zip(one_more(rows, "firmware", kind), one_more(rows, *other))]
            lines.append("| %s | %s %s | %+.1f | %+.1f | %+.1f |" % (
                kind, other[0], other[1], statistics.median(gaps), min(gaps), max(gaps)))
    return "\n".join(lines)


def main():
    stops = []
    try:
        servers = [firmware(kind, stops) for kind in ("MJPEG", "RTSP/TCP", "RTSP/UDP")]
        if gstreamer_installed():
            servers += [gstreamer(transport, stops) for transport in ("tcp", "udp")]
        rows = series(servers)
    finally:
        for stop in stops:
            stop()
    text = table(rows)
    publish("rtsp", rows, text)
    print(text)


if __name__ == "__main__":
    main()
