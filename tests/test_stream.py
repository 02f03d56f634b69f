"""The MJPEG stream: framing, fan-out, one sensor read per frame, no torn frames."""
import io
import threading
import time

from PIL import Image

from firmware import MjpegReader, in_threads, seq_of, wait_for


def read_frames(port, seconds, results, key, **kwargs):
    reader = MjpegReader(port, **kwargs)
    reader.opening()
    frames = []
    end = time.time() + seconds
    while time.time() < end:
        frames.append(reader.part())
    reader.close()
    results[key] = (reader, frames)


def test_stream_headers_and_framing(start):
    fw = start()
    reader = MjpegReader(fw.port)
    assert reader.status == 200
    assert reader.headers["content-type"] == "multipart/x-mixed-replace; boundary=frame"
    assert reader.headers["cache-control"] == "no-store, no-cache, must-revalidate"
    assert reader.headers["pragma"] == "no-cache"
    reader.opening()
    first = time.time()
    headers, jpeg = reader.part()
    assert time.time() - first < 0.5, "a new viewer gets the latest frame at once"
    assert headers["content-type"] == "image/jpeg"
    assert int(headers["content-length"]) == len(jpeg)
    stamp = float(headers["x-timestamp"])
    assert abs(stamp - time.time()) < 5 and "." in headers["x-timestamp"]
    assert jpeg[:2] == b"\xff\xd8" and jpeg[-2:] == b"\xff\xd9"
    reader.close()


def test_eight_viewers_share_every_frame_at_sensor_rate(start):
    fw = start()
    seconds = 4
    results = {}
    in_threads(lambda i: read_frames(fw.port, seconds, results, i), 8)
    assert len(results) == 8
    by_seq = {}
    for reader, frames in results.values():
        seqs = [seq_of(jpeg) for _, jpeg in frames]
        assert len(frames) >= 0.9 * 30 * seconds, ([len(f) for _, f in results.values()], fw.console(), fw.status())
        assert seqs == sorted(set(seqs)), "each frame once, in order"
        for _, jpeg in frames:
            assert by_seq.setdefault(seq_of(jpeg), jpeg) == jpeg, "all viewers get the same bytes"
    common = set.intersection(*(set(seq_of(j) for _, j in f) for _, f in results.values()))
    assert len(common) >= 0.8 * 30 * seconds, "the viewers saw the same frames"


def test_sensor_read_once_per_frame_whatever_the_viewers(start):
    fw = start(settings={"camera": {"idle_fps": 0}})  # the full rate with no viewer too
    rates = {}
    for viewers in (0, 1, 8):
        assert wait_for(lambda: fw.status()["viewers"] == 0)
        results = {}
        threads = [threading.Thread(target=read_frames, args=(fw.port, 3, results, i))
                   for i in range(viewers)]
        before = fw.status()
        began = time.time()
        for t in threads:
            t.start()
        time.sleep(3)
        for t in threads:
            t.join(30)
        after = fw.status()
        assert len(results) == viewers
        rates[viewers] = (after["captures"] - before["captures"]) / (time.time() - began)
        # the sensor stamps its own frame count: it matches the capture counter
        _, _, jpeg = fw.get("/snapshot.jpg")
        assert seq_of(jpeg) == fw.status()["captures"] or abs(seq_of(jpeg) - after["captures"]) <= 3
    for viewers, rate in rates.items():
        assert 25 <= rate <= 33, "captures per second with %d viewers: %.1f" % (viewers, rate)


def test_no_torn_frames_with_stalled_readers(start):
    """Readers that stop reading fill their sockets, so writes go out in pieces while the
    hub's buffers are reused: every part must still be one whole, intact frame."""
    fw = start()
    results = {}

    def stalled_reader(key):
        reader = MjpegReader(fw.port, rcvbuf=4096)
        time.sleep(6)  # the kernel's send buffer (a few MB on loopback) fills up
        reader.opening()
        results[key] = [reader.part() for _ in range(200)]
        reader.close()

    in_threads(stalled_reader, 3, timeout=60)
    assert len(results) == 3
    for frames in results.values():
        for headers, jpeg in frames:
            assert int(headers["content-length"]) == len(jpeg)
            image = Image.open(io.BytesIO(jpeg))
            image.load()  # raises on a truncated or corrupt JPEG
            assert image.size == (320, 240)
            assert image.info["comment"] == b"seq=%08d" % seq_of(jpeg)
        seqs = [seq_of(j) for _, j in frames]
        assert seqs == sorted(set(seqs))
        assert max(b - a for a, b in zip(seqs, seqs[1:])) > 1, "a stalled viewer skips ahead"
    assert wait_for(lambda: fw.status()["viewers"] == 0)
