"""Ten viewers on a board-sized heap, with the flash image's .mpy code."""
import time

from firmware import wait_for
from test_robustness import Streaming, resting_heap


def test_ten_viewers_for_60_s_in_a_256k_heap(start):
    fw = start(heap="256K", settings={"viewers": {"max": 10}})
    time.sleep(1)
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
