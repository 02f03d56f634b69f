"""Memory: ten viewers on a board-sized heap, the room kept for the user's vision.py, and a
heap that does not depend on the folder the firmware runs from."""
import json
import os
import time

from firmware import HEAP, ROOT, Firmware, wait_for
from test_robustness import Streaming, resting_heap

ROOM = 32 * 1024  # free for vision.py at the defaults with track_ball and 8 viewers ...
PIECE = 16 * 1024  # ... in which one piece this large can be allocated (docs/reliability.md: Memory)
# examples/track_ball.py, reporting after each frame the free heap and whether PIECE fits
PROBE = """
import gc
_track = process

def process(img):
    result = _track(img)
    gc.collect()
    result["free"] = gc.mem_free()
    try:
        piece = bytearray(%d)
        result["piece"] = len(piece)
    except MemoryError:
        result["piece"] = 0
    piece = None
    return result
""" % PIECE


def test_ten_viewers_for_60_s_in_a_264k_heap(start):
    fw = start(heap="264K", settings={"viewers": {"max": 10}})
    warm_up = Streaming(fw.port, 10)  # what the first viewers allocate once (about 2 KB,
    time.sleep(1)  # tables grown) is no leak
    warm_up.finish()
    assert wait_for(lambda: fw.status()["viewers"] == 0)
    baseline = resting_heap(fw)
    viewers = Streaming(fw.port, 10)
    peak = 0
    while time.time() - viewers.began < 60:
        time.sleep(5)
        peak = max(peak, fw.status()["heap_used"])
    seconds, counts = viewers.finish()
    for count in counts:
        assert count >= 0.9 * 30 * seconds, (counts, seconds)
    assert wait_for(lambda: fw.status()["viewers"] == 0)
    after = fw.status()
    assert "MemoryError" not in fw.console() and "no room" not in fw.console(), fw.console()
    assert after["capture_errors"] == 0 and after["frames_skipped"] == 0
    assert abs(resting_heap(fw) - baseline) <= 2048, (baseline, resting_heap(fw), peak)


def test_vision_keeps_its_room_beside_eight_viewers_at_the_default_heap(start):
    with open(os.path.join(ROOT, "examples", "track_ball.py")) as f:
        fw = start(vision=f.read() + PROBE)  # the default heap and settings (viewers.max 8)
    viewers = Streaming(fw.port, 8)
    time.sleep(2)
    results = []
    while time.time() - viewers.began < 12:
        results.append(json.loads(fw.get("/vision.json")[2])["result"])
        time.sleep(0.1)
    seconds, counts = viewers.finish()
    assert min(counts) >= 0.9 * 30 * seconds, (counts, seconds)
    assert all(r["found"] for r in results)  # track_ball ran on every frame sampled
    assert min(r["free"] for r in results) >= ROOM, [r["free"] for r in results]
    assert all(r["piece"] == PIECE for r in results), [r["piece"] for r in results]
    assert "MemoryError" not in fw.console(), fw.console()
    assert fw.status()["vision"]["errors"] == 0


def test_the_heap_is_the_same_from_any_folder(tmp_path):
    """A clone at a 200-character path, and firmware run from another: the same heap in use."""
    clone = tmp_path / ("c" * 100) / ("d" * 100)
    clone.mkdir(parents=True)
    os.symlink(os.path.join(ROOT, "build"), clone / "build")  # the image, reached by the long path
    heaps = []
    for where, image in ((tmp_path / "s", None), (clone / ("w" * 50), str(clone / "build" / "image"))):
        where.mkdir()
        fw = Firmware(str(where), **({"image": image} if image else {}))
        try:
            time.sleep(1)
            heaps.append(resting_heap(fw))
        finally:
            fw.stop()
    assert len(str(clone)) >= 200
    assert abs(heaps[0] - heaps[1]) < 200, heaps  # the old layout differed by kilobytes
