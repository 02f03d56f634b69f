"""`make bench`: fan-out, CPU, latency and heap of the firmware against two reference designs.

Each design runs under the MicroPython unix port with the simulated sensor at 30 fps (QVGA,
about 20 KB a frame); viewers are driven from a separate client process (bench/viewers.py).
Writes bench/results/results.{md,json} and chart.png, and prints the table.
"""
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests"))
from firmware import HEAP, MICROPYTHON, Firmware, MjpegReader, first_parts, seq_of  # noqa: E402
import reference  # noqa: E402

RESULTS = os.path.join(HERE, "results")
BEGIN, END = "<!-- bench results -->", "<!-- end of bench results -->"
FPS = 30
VIEWERS = (1, 10, 50, 100)
SECONDS = 8  # measured, after a second's warm-up
HEAP_TRIAL_SECONDS = 20
BURSTS = ((100, 100), (300, 256))  # (connections at once, viewers.max)
VISION_SECONDS = 6  # per window; windows of the configurations alternate, VISION_ROUNDS each
VISION_ROUNDS = 3
IDLE_SECONDS = 5  # per window; the two configurations alternate, IDLE_ROUNDS each
IDLE_ROUNDS = 3
VISIONS = {
    "no vision.py": None,
    "no-op process": "def process(img):\n    return None\n",
    "examples/track_ball.py": os.path.join(ROOT, "examples", "track_ball.py"),
    "examples/motion.py": os.path.join(ROOT, "examples", "motion.py"),
}
# the revisions the fan-out is measured against, in the same run: the first release, and
# main before the viewers were written to from the hub
REFERENCES = os.getenv("REF", "72ca1bf dccfbde").split()
AT = "FrameStream at "  # the design name of a reference revision
MP32 = os.getenv("MP32")  # a 32-bit build of the interpreter (../shared/micropython32), if any
MP32_ROW = "FrameStream, 32-bit build"
DESIGNS = {
    "FrameStream": None,  # the firmware itself: build/image/main.py
    "concatenating": os.path.join(HERE, "designs", "concatenating.py"),
    "snapshot per viewer": os.path.join(HERE, "designs", "snapshot_per_viewer.py"),
}


def all_designs():
    return list(DESIGNS) + [AT + rev for rev in REFERENCES]


def progress(text):
    print("[bench %s] %s" % (time.strftime("%H:%M:%S"), text), file=sys.stderr, flush=True)


def start(design, heap, viewers, max_viewers=None, vision=None, idle_fps=0,
          interpreter=MICROPYTHON, more=None):
    """A firmware; at the full sensor rate with no viewer too, unless `idle_fps` is given;
    `more` settings besides."""
    settings = dict({"viewers": {"max": max_viewers or max(viewers, 1)},
                     "camera": {"idle_fps": idle_fps}}, **(more or {}))
    where = {}
    if design.startswith(AT):  # a reference revision, with its own stand-ins
        built = reference.build(design[len(AT):])
        where = {"image": os.path.join(built, "image"), "testcard": os.path.join(built, "testcard"),
                 "host": os.path.join(built, "src", "host")}
    return Firmware(tempfile.mkdtemp(), heap=heap, settings=settings,
                    env={"SIM_FPS": str(FPS)}, script=DESIGNS.get(design), vision=vision,
                    interpreter=interpreter, **where)


def clients(port, viewers, seconds):
    """Run the viewers in their own process; returns its JSON result."""
    out = subprocess.run([sys.executable, os.path.join(HERE, "viewers.py"), str(port),
                          str(viewers), str(seconds)], capture_output=True, text=True,
                         timeout=seconds + 60)
    if out.returncode:
        raise RuntimeError(out.stderr)
    return json.loads(out.stdout)


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))] if values else None


def status(fw):
    """The firmware's counters, or {} when it does not answer within 20 s (a blocked design)."""
    try:
        return fw.status(timeout=20)
    except OSError:
        return {}


def fan_out(design, viewers):
    """One run: `viewers` viewers; CPU and capture rate over SECONDS while they stream."""
    fw = start(design, "16M", viewers)
    try:
        time.sleep(1)
        idle0, t0 = fw.status()["captures"], time.time()
        time.sleep(2)
        idle_rate = (fw.status()["captures"] - idle0) / (time.time() - t0)
        baseline = fw.status()["heap_used"]
        with ThreadPoolExecutor(1) as pool:
            job = pool.submit(clients, fw.port, viewers, SECONDS + 2)
            time.sleep(1.5)  # the viewers connect and get their first frame
            # /status.json collects garbage: keep its calls out of the CPU window
            cap0, t0, cpu0 = status(fw).get("captures"), time.time(), fw.cpu_seconds()
            time.sleep(SECONDS)
            cpu1, t1, cap1 = fw.cpu_seconds(), time.time(), status(fw).get("captures")
            heap = status(fw).get("heap_used")
            result = job.result()
        frames = result["frames"]
        rates = [f / result["seconds"] for f in frames]
        delivered = sum(rates) * (t1 - t0)  # viewer-frames sent in the CPU window
        return {
            "design": design, "viewers": viewers,
            "cpu_s_per_s": (cpu1 - cpu0) / (t1 - t0), "viewer_frames_per_s": delivered / (t1 - t0),
            "fps_min": min(rates), "fps_median": statistics.median(rates),
            "cpu_us_per_viewer_frame": (cpu1 - cpu0) * 1e6 / delivered if delivered else None,
            "capture_fps": None if None in (cap0, cap1) else (cap1 - cap0) / (t1 - t0),
            "idle_capture_fps": idle_rate,
            "latency_p50_ms": percentile(result["latencies_ms"], 50),
            "latency_p99_ms": percentile(result["latencies_ms"], 99),
            "heap_per_viewer": None if heap is None else (heap - baseline) / viewers,
            "failed_viewers": result["failed"],
            "memory_errors": fw.console().count("MemoryError"),
        }
    finally:
        fw.stop()


def burst(design, connections, max_viewers):
    """`connections` stream requests at once: how long until each is answered (its first
    part, a 503, or a close or reset), how many of each, and how many never were within 20 s."""
    fw = start(design, "16M", connections, max_viewers)
    try:
        time.sleep(1)
        done, left = first_parts(fw.port, connections)
        times = [t for answers in done.values() for t in answers]
        return {"design": design, "connections": connections, "max_viewers": max_viewers,
                "streams": len(done.get(b"200", [])), "refused": len(done.get(b"503", [])),
                "closed": len(done.get(b"closed", [])),
                "unanswered": left, "p50_s": percentile(times, 50),
                "all_s": max(times) if times and not left else None}
    finally:
        fw.stop()


def vision_source(name):
    source = VISIONS[name]
    if source and os.path.exists(source):
        with open(source) as f:
            return f.read()
    return source


def cpu_per_frame(firmwares, rounds, seconds):
    """Each firmware's CPU µs per captured frame over `rounds` windows of `seconds`, the
    firmwares taking turns so drift hits them alike: {name: [µs, ...]}."""
    samples = {name: [] for name in firmwares}
    time.sleep(2)
    for round_ in range(rounds):
        for name, fw in firmwares.items():
            progress("%s, round %d ..." % (name, round_ + 1))
            cap0, cpu0 = fw.status()["captures"], fw.cpu_seconds()
            time.sleep(seconds)
            cpu1, cap1 = fw.cpu_seconds(), fw.status()["captures"]
            samples[name].append((cpu1 - cpu0) * 1e6 / (cap1 - cap0))
    return samples


def vision_cost():
    """The capture loop's CPU per frame (no viewers) with each vision configuration."""
    firmwares = {name: start("FrameStream", HEAP, 0, vision=vision_source(name))
                 for name in VISIONS}
    try:
        samples = cpu_per_frame(firmwares, VISION_ROUNDS, VISION_SECONDS)
        rows = []
        base = statistics.median(samples["no vision.py"])
        overhead = stage_overhead()
        for name, fw in firmwares.items():
            stats = fw.status()["vision"] or {}
            us = statistics.median(samples[name])
            rows.append({"vision": name, "cpu_us_per_frame": us, "min": min(samples[name]),
                         "max": max(samples[name]), "added": us / base - 1,
                         "process_mean_ms": stats.get("mean_ms")})
        rows.append({"vision": "no-op stage, timed in-process", "cpu_us_per_frame": overhead,
                     "min": overhead, "max": overhead, "added": overhead / base,
                     "process_mean_ms": None})
        return rows
    finally:
        for fw in firmwares.values():
            fw.stop()


def feature_cost(label, more, heap=HEAP, rounds=3, seconds=5):
    """CPU per frame with examples/motion.py (the ball moving) and no viewer, without the
    optional feature `label` and with it (`more`: its settings)."""
    source = vision_source("examples/motion.py")
    firmwares = {label + " off": start("FrameStream", heap, 0, vision=source),
                 label + " on": start("FrameStream", heap, 0, vision=source, more=more)}
    try:
        samples = cpu_per_frame(firmwares, rounds, seconds)
        status = firmwares[label + " on"].status()
    finally:
        for fw in firmwares.values():
            fw.stop()
    return {"rows": [{"feature": name, "cpu_us_per_frame": statistics.median(us),
                      "min": min(us), "max": max(us)} for name, us in samples.items()],
            "status": status}


def mqtt_cost():
    """MQTT on: a mosquitto on loopback, Home Assistant discovery on, a picture every 10 s."""
    from test_mqtt import Broker
    broker = Broker(tempfile.mkdtemp())
    try:
        return feature_cost("MQTT", {"mqtt": {"host": "127.0.0.1", "port": broker.port}})
    finally:
        broker.stop()


def record_cost():
    """Recording on: a clip of the moving ball at 5 fps with a 2 s pre-roll, written to the
    host's disk; a 1 MB heap holds the pre-roll."""
    return feature_cost("recording", {"record": {}}, heap="1M")


def feature_table(cost):
    lines = ["| examples/motion.py, no viewer | CPU µs/frame (median) | range over the windows |",
             "| --- | ---: | ---: |"]
    for r in cost["rows"]:
        lines.append("| %s | %.0f | %.0f-%.0f |" % (r["feature"], r["cpu_us_per_frame"],
                                                     r["min"], r["max"]))
    return "\n".join(lines)


def idle_cost():
    """CPU with no viewer, with the idle slowdown (the default, 1 fps) and without; and how
    soon the first viewer gets frames at the sensor's rate."""
    firmwares = {1: start("FrameStream", HEAP, 0, idle_fps=1),
                 0: start("FrameStream", HEAP, 0, idle_fps=0)}
    cpu = {idle: [] for idle in firmwares}
    try:
        time.sleep(2)
        for round_ in range(IDLE_ROUNDS):
            for idle, fw in firmwares.items():
                progress("idle CPU: idle_fps %d, round %d ..." % (idle, round_ + 1))
                cap0, cpu0, t0 = fw.status()["captures"], fw.cpu_seconds(), time.time()
                time.sleep(IDLE_SECONDS)
                cpu1, cap1, t1 = fw.cpu_seconds(), fw.status()["captures"], time.time()
                cpu[idle].append(((cpu1 - cpu0) * 1000 / (t1 - t0), (cap1 - cap0) / (t1 - t0)))
        wakes = [first_viewer(firmwares[1]) for _ in range(5)]
    finally:
        for fw in firmwares.values():
            fw.stop()
    rows = [{"idle_fps": idle, "cpu_ms_per_s": statistics.median(c for c, _ in cpu[idle]),
             "captures_per_s": statistics.median(f for _, f in cpu[idle])} for idle in cpu]
    return {"rows": rows, "first_part_s": max(w[0] for w in wakes),
            "full_rate_s": max(w[1] for w in wakes)}


def first_viewer(fw):
    """A viewer arriving at an idle camera: seconds to its first part, and to the second new
    frame after it (the sensor's rate again)."""
    time.sleep(2.5)  # idle again
    began = time.time()
    viewer = MjpegReader(fw.port)
    viewer.opening()
    seqs = [seq_of(viewer.part()[1])]
    first = time.time() - began
    while len(seqs) < 3:
        seqs.append(seq_of(viewer.part()[1]))
    full = time.time() - began
    viewer.close()
    return first, full


def idle_table(idle):
    lines = ["| no viewer | CPU ms per s (median of %d windows) | captures per s |" % IDLE_ROUNDS,
             "| --- | ---: | ---: |"]
    for r in idle["rows"]:
        lines.append("| %s | %.1f | %.1f |" % (
            "idle slowdown (camera.idle_fps 1, the default)" if r["idle_fps"]
            else "always full rate (camera.idle_fps 0)", r["cpu_ms_per_s"], r["captures_per_s"]))
    return "\n".join(lines)


def in_micropython(script, env=None):
    """Run bench/`script` under MicroPython against the image; the JSON line it prints."""
    env = dict(os.environ, MICROPYPATH="%s/build/image/lib:%s/host:.frozen" % (ROOT, ROOT),
               SIM_TESTCARD=os.path.join(ROOT, "build", "testcard"), **(env or {}))
    out = subprocess.run([MICROPYTHON, "-X", "heapsize=4M", os.path.join(HERE, script)],
                         capture_output=True, text=True, timeout=300, env=env, check=True)
    return json.loads(out.stdout)


def stage_overhead():
    """µs a no-op vision stage adds per frame, timed inside MicroPython (bench/vision_overhead.py)."""
    return in_micropython("vision_overhead.py")["stage_us"]


def path_table(steps):
    lines = ["| step | µs per viewer-frame |", "| --- | ---: |"]
    for name, us in steps:
        lines.append("| %s | %.2f |" % (name, us))
    return "\n".join(lines)


def capture_table(runs, simulator_us):
    one = by_viewers(runs, "FrameStream")[1]
    whole = one["cpu_s_per_s"] * 1e6 / one["capture_fps"]
    return "\n".join([
        "| at 1 viewer | µs per frame |", "| --- | ---: |",
        "| the whole firmware process | %.0f |" % whole,
        "| of which the simulated sensor's snapshot and encode (C and hardware on a board) | %.0f |"
        % simulator_us,
        "| the rest: the firmware's own, the interpreter's and the kernel's | %.0f |"
        % (whole - simulator_us)])


def vision_table(rows):
    lines = ["| vision | CPU µs/frame (median) | range over %d windows | vs no vision.py | "
             "process() mean ms |" % VISION_ROUNDS, "| --- | ---: | ---: | ---: | ---: |"]
    for r in rows:
        lines.append("| %s | %.0f | %.0f-%.0f | %+.1f%% | %s |" % (
            r["vision"], r["cpu_us_per_frame"], r["min"], r["max"], r["added"] * 100,
            fmt(r["process_mean_ms"], 2)))
    return "\n".join(lines)


def holds_ten_viewers(design, heap_kb, interpreter=MICROPYTHON):
    """Does a heap of `heap_kb` KB hold 10 viewers for HEAP_TRIAL_SECONDS without MemoryError?"""
    try:
        fw = start(design, "%dK" % heap_kb, 10, interpreter=interpreter)
    except RuntimeError:
        return False  # could not even start
    try:
        result = clients(fw.port, 10, HEAP_TRIAL_SECONDS)
        alive = fw.proc.poll() is None
        console = fw.console()
        return (alive and not result["failed"] and min(result["frames"]) > 0
                and "MemoryError" not in console and "no room" not in console)
    except (RuntimeError, OSError, ValueError):
        return False
    finally:
        fw.stop()


def smallest_heap(design, lo=64, hi=1024, step=8, interpreter=MICROPYTHON):
    """Bisect the smallest heap (KB, to `step`) holding 10 viewers; None if even `hi` fails."""
    if not holds_ten_viewers(design, hi, interpreter):
        return None
    while hi - lo > step:
        mid = (lo + hi) // 2 // step * step
        progress("%s: 10 viewers in %d KB ..." % (design, mid))
        if holds_ten_viewers(design, mid, interpreter):
            hi = mid
        else:
            lo = mid
    return hi


def fmt(value, digits=1):
    return "-" if value is None else ("%.*f" % (digits, value))


def by_viewers(runs, design):
    return {r["viewers"]: r for r in runs if r["design"] == design}


def marginal_us(rows):
    """CPU µs of one more viewer-frame, from 10 viewers to 100."""
    return (rows[100]["cpu_s_per_s"] - rows[10]["cpu_s_per_s"]) * 1e6 / (
        rows[100]["viewer_frames_per_s"] - rows[10]["viewer_frames_per_s"])


def reference_table(runs):
    """This tree's fan-out against each reference revision's, measured in the same run."""
    ours = by_viewers(runs, "FrameStream")
    lines = ["| viewers | this tree µs/viewer-frame | " + " | ".join(
        "%s | ratio" % rev for rev in REFERENCES) + " |",
        "| ---: | ---: |" + " ---: | ---: |" * len(REFERENCES)]
    refs = [by_viewers(runs, AT + rev) for rev in REFERENCES]
    for n in VIEWERS:
        cells = ["%.1f | %.2f" % (ref[n]["cpu_us_per_viewer_frame"],
                                 ours[n]["cpu_us_per_viewer_frame"] / ref[n]["cpu_us_per_viewer_frame"])
                 for ref in refs]
        lines.append("| %d | %.1f | %s |" % (n, ours[n]["cpu_us_per_viewer_frame"], " | ".join(cells)))
    cells = ["%.1f | %.2f" % (marginal_us(ref), marginal_us(ours) / marginal_us(ref)) for ref in refs]
    lines.append("| one more viewer (10 to 100) | %.1f | %s |" % (marginal_us(ours), " | ".join(cells)))
    return "\n".join(lines)


def burst_table(bursts):
    lines = ["| design | at once | viewers.max | streams | 503 | closed | unanswered | median s | all answered s |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for b in bursts:
        lines.append("| %s | %d | %d | %d | %d | %d | %d | %s | %s |" % (
            b["design"], b["connections"], b["max_viewers"], b["streams"], b["refused"],
            b["closed"], b["unanswered"], fmt(b["p50_s"], 2), fmt(b["all_s"], 2)))
    return "\n".join(lines)


def table(runs, heaps):
    lines = ["| design | viewers | fps/viewer min | median | CPU µs/viewer-frame | capture fps "
             "(idle) | latency p50 ms | p99 ms | heap B/viewer |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    order = all_designs()
    for r in sorted(runs, key=lambda r: (order.index(r["design"]), r["viewers"])):
        lines.append("| %s | %d | %s | %s | %s | %s (%s) | %s | %s | %s |" % (
            r["design"], r["viewers"], fmt(r["fps_min"]), fmt(r["fps_median"]),
            fmt(r["cpu_us_per_viewer_frame"], 0), fmt(r["capture_fps"]),
            fmt(r["idle_capture_fps"]), fmt(r["latency_p50_ms"]), fmt(r["latency_p99_ms"]),
            fmt(r["heap_per_viewer"], 0)))
    lines += ["", "| design | smallest heap holding 10 viewers for %d s |" % HEAP_TRIAL_SECONDS,
              "| --- | ---: |"]
    for design, kb in heaps.items():
        lines.append("| %s | %s |" % (design, "over 1024 KB" if kb is None else "%d KB" % kb))
    return "\n".join(lines)


def targets(runs, heaps, bursts, visions, idle):
    """The targets, each with its verdict."""
    ours = {r["viewers"]: r for r in runs if r["design"] == "FrameStream"}
    concat = {r["viewers"]: r for r in runs if r["design"] == "concatenating"}
    ratio = max(ours[n]["cpu_us_per_viewer_frame"] / concat[n]["cpu_us_per_viewer_frame"]
                for n in VIEWERS)
    capture_drop = 1 - ours[100]["capture_fps"] / ours[100]["idle_capture_fps"]
    checks = [
        ("100 viewers each get >= 95% of 30 fps", ours[100]["fps_min"] >= 0.95 * FPS,
         "min %.1f fps" % ours[100]["fps_min"]),
        ("CPU per viewer-frame <= 0.6 x concatenating", ratio <= 0.6, "worst ratio %.2f" % ratio),
        ("latency p50 < 3 ms with 10 viewers", ours[10]["latency_p50_ms"] < 3,
         "%.2f ms" % ours[10]["latency_p50_ms"]),
        ("latency p99 < 20 ms with 10 viewers", ours[10]["latency_p99_ms"] < 20,
         "%.2f ms" % ours[10]["latency_p99_ms"]),
        ("10 viewers fit in a 160 KB heap", (heaps["FrameStream"] or 999) <= 160,
         "%s KB" % heaps["FrameStream"]),
    ]
    if MP32_ROW in heaps:
        checks.append(("10 viewers fit in a 160 KB heap on the 32-bit build",
                       (heaps[MP32_ROW] or 999) <= 160, "%s KB" % heaps[MP32_ROW]))
    checks += [
        ("capture rate with 100 viewers within 3% of idle", capture_drop <= 0.03,
         "%.1f%% lower" % (capture_drop * 100)),
    ]
    if len(REFERENCES) == 2:  # the first release, and main before the hub wrote to viewers
        first, before = (by_viewers(runs, AT + rev) for rev in REFERENCES)
        checks += [
            ("CPU per viewer-frame at 10 and 100 viewers below %s's" % REFERENCES[0],
             all(ours[n]["cpu_us_per_viewer_frame"] < first[n]["cpu_us_per_viewer_frame"]
                 for n in (10, 100)), "ratios %s" % ", ".join(
                 "%.2f" % (ours[n]["cpu_us_per_viewer_frame"] / first[n]["cpu_us_per_viewer_frame"])
                 for n in (10, 100))),
            ("one more viewer costs at most half of what it did at %s" % REFERENCES[1],
             marginal_us(ours) <= 0.5 * marginal_us(before),
             "%.1f µs against %.1f, ratio %.2f" % (marginal_us(ours), marginal_us(before),
                                                   marginal_us(ours) / marginal_us(before))),
        ]
    noop = [v for v in visions if v["vision"] == "no-op stage, timed in-process"][0]
    checks.append(("a no-op process adds at most 5% to the capture loop's CPU per frame",
                   noop["added"] <= 0.05, "%.1f µs a frame, %.1f%%" % (
                       noop["cpu_us_per_frame"], noop["added"] * 100)))
    burst = {b["connections"]: b for b in bursts if b["design"] == "FrameStream"}
    checks += [
        ("100 viewers at once all get their first frame within 0.5 s",
         burst[100]["streams"] == 100 and (burst[100]["all_s"] or 99) < 0.5,
         "%d in %s s" % (burst[100]["streams"], fmt(burst[100]["all_s"], 2))),
        ("300 at once with viewers.max 256: 256 streams, 44 503s, all within 2 s",
         (burst[300]["streams"], burst[300]["refused"]) == (256, 44)
         and (burst[300]["all_s"] or 99) < 2,
         "%d and %d in %s s" % (burst[300]["streams"], burst[300]["refused"],
                                fmt(burst[300]["all_s"], 2))),
    ]
    slow, full = [r["cpu_ms_per_s"] for r in sorted(idle["rows"], key=lambda r: -r["idle_fps"])]
    checks += [
        ("with no viewer the camera idles at 1 fps, using less CPU", slow < full,
         "%.1f ms of CPU a second instead of %.1f" % (slow, full)),
        ("the first viewer: a frame at once, the sensor's rate within one interval + 100 ms",
         idle["full_rate_s"] < 1 / FPS + 0.1 + 1 / FPS,
         "first part within %.3f s, two new frames within %.3f s (worst of 5)" % (
             idle["first_part_s"], idle["full_rate_s"])),
    ]
    return ["- %s: **%s** (%s)" % (name, "met" if ok else "missed", value)
            for name, ok, value in checks]


def chart(runs, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    for design in all_designs():
        rows = sorted((r for r in runs if r["design"] == design), key=lambda r: r["viewers"])
        x = [r["viewers"] for r in rows]
        axes[0].plot(x, [r["fps_min"] for r in rows], marker="o", label=design)
        axes[1].plot(x, [r["cpu_us_per_viewer_frame"] for r in rows], marker="o", label=design)
        axes[2].plot(x, [r["latency_p99_ms"] for r in rows], marker="o", label=design)
    for ax, title in zip(axes, ("frames/s per viewer (min)", "CPU µs per viewer-frame",
                                "latency p99 (ms)")):
        ax.set_title(title)
        ax.set_xlabel("viewers")
        ax.set_xscale("log")
        ax.grid(True, alpha=0.3)
    axes[1].set_yscale("log")
    axes[2].set_yscale("log")
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def main():
    began = time.time()
    os.makedirs(RESULTS, exist_ok=True)
    runs = []
    for viewers in VIEWERS:  # the designs take turns, so drift hits them alike
        for design in all_designs():
            progress("%s, %d viewers ..." % (design, viewers))
            runs.append(fan_out(design, viewers))
    bursts = []
    for design in DESIGNS:
        for connections, max_viewers in BURSTS:
            progress("%s: %d connections at once ..." % (design, connections))
            bursts.append(burst(design, connections, max_viewers))
    progress("where a viewer-frame goes, and the simulator's share ...")
    steps = in_micropython("viewer_path.py")
    simulator_us = in_micropython("simulator_cost.py", {"SIM_FPS": "100000"})[
        "snapshot_and_encode_us"]
    visions = vision_cost()
    mqtt = mqtt_cost()
    progress("recording off and on ...")
    record = record_cost()
    idle = idle_cost()
    progress("smallest heaps for 10 viewers, the three designs side by side ...")
    with ThreadPoolExecutor(len(DESIGNS)) as pool:
        heaps = dict(zip(DESIGNS, pool.map(smallest_heap, DESIGNS)))
    if MP32:  # the 32-bit build, whose objects take a board's room
        progress("FrameStream on the 32-bit build (%s): 10 viewers ..." % MP32)
        heaps[MP32_ROW] = smallest_heap("FrameStream", interpreter=MP32)
    machine = "%s, %d cores, %s" % (platform.machine(), os.cpu_count(), platform.platform())
    text = "\n".join([
        "# Benchmark results", "",
        "%s; %s; MicroPython unix port, simulated sensor %d fps QVGA (~20 KB frames); "
        "%d s per run; took %.0f s." % (time.strftime("%Y-%m-%d"), machine, FPS, SECONDS,
                                        time.time() - began), "",
        table(runs, heaps), "", "Fan-out against earlier revisions (CPU of the whole "
        "firmware process per viewer-frame, the same run):", "", reference_table(runs), "",
        "Where one viewer-frame's CPU goes, timed in-process with a socket that takes every "
        "byte at once (`bench/viewer_path.py`; the kernel's share of a real send is the same "
        "in every design): each step when every viewer's task woke for every frame, and the "
        "hub's delivery that replaced them:", "", path_table(steps), "",
        "The capture loop at one viewer:", "", capture_table(runs, simulator_us), "",
        "Connections at once (time until each has its first part or "
        "its 503):", "", burst_table(bursts), "", "Vision (`vision.py`), no viewers: CPU per "
        "frame of the whole firmware process:", "", vision_table(visions), "",
        "MQTT (`mqtt.host` set: a broker on loopback, Home Assistant discovery, the vision "
        "result on change, a picture every 10 s):", "", feature_table(mqtt), "",
        "Recording (`record` set: clips of the moving ball at 5 fps, a 2 s pre-roll, to the "
        "host's disk):", "", feature_table(record), "", "Idle:", "",
        idle_table(idle), "", "Targets:", ""]
        + targets(runs, heaps, bursts, visions, idle) + [""])
    with open(os.path.join(RESULTS, "results.md"), "w") as f:
        f.write(text)
    with open(os.path.join(RESULTS, "results.json"), "w") as f:
        json.dump({"runs": runs, "bursts": bursts, "vision": visions, "idle": idle,
                   "viewer_path_us": steps, "simulator_us_per_frame": simulator_us,
                   "mqtt": mqtt, "record": record,
                   "smallest_heap_kb": heaps, "machine": machine}, f, indent=1)
    chart(runs, os.path.join(RESULTS, "chart.png"))
    update_page(text)
    print(text)


def update_page(text):
    """Put the latest results between docs/performance.md's bench markers."""
    body = text.split("\n", 2)[2]  # without the title
    write_between(BEGIN, END, body + "\n![benchmark chart](../bench/results/chart.png)")


def publish(name, rows, text):
    """Write a benchmark's rows and table to results/NAME.{json,md}, and the table into
    docs/performance.md between its `NAME results` markers."""
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, name + ".md"), "w") as f:
        f.write(text + "\n")
    with open(os.path.join(RESULTS, name + ".json"), "w") as f:
        json.dump(rows, f, indent=1)
    write_between("<!-- %s results -->" % name, "<!-- end of %s results -->" % name, text)


def write_between(begin, end, text):
    """Replace what docs/performance.md holds between two markers."""
    path = os.path.join(ROOT, "docs", "performance.md")
    with open(path) as f:
        page = f.read()
    start, stop = page.index(begin) + len(begin), page.index(end)
    with open(path, "w") as f:
        f.write(page[:start] + "\n" + text + "\n" + page[stop:])


if __name__ == "__main__":
    main()
