"""Runtime controls (/control), the per-viewer rate (?fps=N) and the idle slowdown, against
the real interpreter over real sockets."""
import base64
import io
import json
import os
import resource
import signal
import time

from PIL import Image

from firmware import MjpegReader, seq_of, wait_for

JSON = "application/json"


def snapshot(fw):
    status, headers, body = fw.get("/snapshot.jpg")
    assert status == 200
    return body


def stamps(jpeg):
    """The picture controls the simulated sensor stamped into a frame (`set=` comment)."""
    at = jpeg.find(b"set=", 0, 200)
    if at < 0:
        return {}
    length = int.from_bytes(jpeg[at - 2:at], "big") - 2
    return dict(pair.split("=") for pair in jpeg[at + 4:at + length].decode().split())


def test_get_lists_every_control_with_its_range(start):
    fw = start()
    controls = json.loads(fw.get("/control")[2])
    assert controls["framesize"] == {"value": "QVGA", "choices": ["QQVGA", "QVGA", "VGA"]}
    assert controls["quality"] == {"value": 85, "min": 10, "max": 100}
    assert controls["fps_cap"] == {"value": 0, "min": 0, "max": 120}
    for name in ("brightness", "contrast", "saturation"):
        assert controls[name] == {"value": 0, "min": -3, "max": 3}
    for name in ("hmirror", "vflip"):
        assert controls[name] == {"value": False}
    for name in ("auto_gain", "auto_exposure", "auto_whitebalance"):
        assert controls[name] == {"value": True}


def test_each_control_takes_effect_between_frames(start):
    fw = start()
    viewer = MjpegReader(fw.port)
    viewer.opening()
    before = len(viewer.part()[1])
    status, answer = fw.post("/control", {"quality": 30})
    assert status == 200 and json.loads(answer)["quality"]["value"] == 30
    assert wait_for(lambda: len(viewer.part()[1]) < before / 2)  # the same viewer, smaller parts

    assert fw.status()["frame_buffers_kb"] == fw.status()["frame_buffers"] * 22  # QVGA's
    status, answer = fw.post("/control", {"framesize": "QQVGA"})
    assert status == 200, answer
    assert wait_for(lambda: Image.open(io.BytesIO(viewer.part()[1])).size == (160, 120))
    assert Image.open(io.BytesIO(snapshot(fw))).size == (160, 120)
    assert fw.status()["framesize"] == "QQVGA"
    assert fw.status()["frame_buffers_kb"] == fw.status()["frame_buffers"] * 22  # kept

    picture = {"hmirror": True, "vflip": True, "brightness": 2, "contrast": -1, "saturation": 3,
               "auto_gain": False, "auto_exposure": False, "auto_whitebalance": False}
    assert fw.post("/control", picture)[0] == 200
    assert wait_for(lambda: stamps(viewer.part()[1]) == {
        "hmirror": "1", "vflip": "1", "brightness": "2", "contrast": "-1", "saturation": "3",
        "auto_gain": "0", "auto_exposure": "0", "auto_whitebal": "0"})
    viewer.close()

    assert fw.post("/control", {"fps_cap": 5})[0] == 200
    first = fw.status()["captures"]
    time.sleep(3)
    assert fw.status()["captures"] - first <= 5 * 3 + 3  # not the sensor's 30 a second
    assert fw.status()["viewers_served"] == 1 and "Traceback" not in fw.console()


def test_frame_buffers_grow_for_a_larger_frame_size_and_keep_their_room(start):
    fw = start(heap="1M")
    viewer = MjpegReader(fw.port)
    viewer.opening()
    qvga = fw.status()["frame_buffers_kb"]
    assert fw.post("/control", {"framesize": "VGA"})[0] == 200
    assert wait_for(lambda: Image.open(io.BytesIO(viewer.part()[1])).size == (640, 480))
    for _ in range(30):  # VGA frames flow: the buffers they land in grew
        assert Image.open(io.BytesIO(viewer.part()[1])).size == (640, 480)
    grown = fw.status()["frame_buffers_kb"]
    assert grown > qvga, (grown, qvga)
    assert fw.post("/control", {"framesize": "QQVGA"})[0] == 200
    assert wait_for(lambda: Image.open(io.BytesIO(viewer.part()[1])).size == (160, 120))
    for _ in range(30):
        viewer.part()
    assert fw.status()["frame_buffers_kb"] == grown  # ready for VGA again
    status = fw.status()
    assert status["viewers_served"] == 1 and status["frames_skipped"] == 0, status
    viewer.close()


def test_bad_values_change_nothing_and_say_what_is_allowed(start):
    fw = start(env={"SIM_LACKS": "saturation"})
    before = fw.get("/control")[2]
    assert "saturation" not in json.loads(before)
    cases = {
        "quality": ({"quality": 20, "brightness": 9}, "brightness: a whole number from -3 to 3"),
        "choice": ({"hmirror": True, "framesize": "HUGE"}, "framesize: one of QQVGA, QVGA, VGA"),
        "type": ({"vflip": "yes"}, "vflip: true or false"),
        "bool": ({"quality": True}, "quality: a whole number from 10 to 100"),
        "unknown": ({"zoom": 2}, "zoom: no such control"),
        "lacking": ({"contrast": 1, "saturation": 1}, "saturation: not supported by this sensor"),
        "not an object": ([1, 2], "the body must be a JSON object"),
        "save": ({"quality": 50, "save": "yes"}, "save must be true or false"),
    }
    for case, (body, message) in cases.items():
        status, text = fw.post("/control", body)
        assert status == 400 and message in text, (case, status, text)
    assert fw.post("/control", b"{quality", JSON)[:1] == (400,)
    assert fw.post("/control", b"quality=20", "application/x-www-form-urlencoded")[0] == 415
    assert fw.post("/control", b'{"quality": 20}', "text/plain")[0] == 415
    assert fw.get("/control")[2] == before  # all or nothing: nothing changed
    assert "set=" not in snapshot(fw)[:200].decode("latin-1")


def test_control_needs_the_login(start):
    fw = start(settings={"login": {"user": "ha", "password": "s3cret"}})
    assert fw.get("/control")[0] == 401
    assert fw.post("/control", {"quality": 20})[0] == 401
    token = "Basic " + base64.b64encode(b"ha:s3cret").decode()
    assert fw.post("/control", {"quality": 20}, headers={"Authorization": token})[0] == 200


def test_saved_values_survive_a_reboot_and_leave_the_rest_alone(start, tmp_path):
    wifi = [{"ssid": "home", "password": "wifi-secret"}]
    fw = start(settings={"wifi": wifi, "login": None, "camera": {"buffers": 2}},
               env={"SIM_WIFI": "home:wifi-secret"})
    assert fw.post("/control", {"quality": 40, "hmirror": True, "save": True})[0] == 200
    with open(tmp_path / "fw0" / "settings.json") as f:
        saved = json.load(f)
    assert saved["wifi"] == wifi and saved["port"] == fw.port and saved["login"] is None
    assert saved["camera"]["quality"] == 40 and saved["camera"]["hmirror"] is True
    assert saved["camera"]["buffers"] == 2
    assert not os.path.exists(tmp_path / "fw0" / "settings.json.tmp")
    fw.stop()
    fw.start()  # a reboot
    controls = json.loads(fw.get("/control")[2])
    assert controls["quality"]["value"] == 40 and controls["hmirror"]["value"] is True
    assert stamps(snapshot(fw)) == {"hmirror": "1"}
    assert "settings:" not in fw.console()  # the file it wrote reads back without a warning


def limit_file_size():
    """The flash fills up: files stop growing at 64 bytes (EFBIG, not a signal)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64, 64))


def test_a_failed_save_leaves_the_old_settings_whole(start, tmp_path):
    fw = start(settings={"camera": {"quality": 70}}, preexec=limit_file_size)
    path = tmp_path / "fw0" / "settings.json"
    old = path.read_bytes()
    status, text = fw.post("/control", {"quality": 20, "save": True})
    assert status == 500 and "not saved" in text, text
    assert path.read_bytes() == old
    assert not os.path.exists(str(path) + ".tmp")
    assert json.loads(fw.get("/control")[2])["quality"]["value"] == 20  # applied, not kept
    assert fw.post("/control", {"quality": 30})[0] == 200  # and the camera carries on


def test_a_viewer_can_cap_its_own_rate(start):
    fw = start()
    for bad in ("abc", "0", "500", "-1", ""):
        assert fw.get("/stream.jpg?fps=" + bad)[0] == 400, bad
    slow, fast = MjpegReader(fw.port, path="/stream.jpg?fps=2"), MjpegReader(fw.port)
    slow.opening()
    fast.opening()
    began = time.time()
    slow_seqs = [seq_of(slow.part()[1]) for _ in range(5)]
    took = time.time() - began
    fast_seqs = [seq_of(fast.part()[1]) for _ in range(10)]
    assert took >= 1.9, took  # 5 parts at 2 a second: at least 2 s
    assert slow_seqs == sorted(set(slow_seqs)) and fast_seqs == sorted(set(fast_seqs))
    assert fast_seqs[-1] - fast_seqs[0] == 9  # the other viewer gets every frame
    slow.close()
    fast.close()


def test_capture_idles_without_viewers_and_wakes_for_the_first(start):
    fw = start(settings={"camera": {"idle_fps": 1}})
    first = fw.status()["captures"]
    time.sleep(3)
    idle = fw.status()["captures"] - first
    assert idle <= 5, idle  # about one a second, not 30
    assert float(fw.get("/snapshot.jpg")[1]["X-Frame-Age"]) < 1.5  # a snapshot stays fresh
    time.sleep(0.5)
    began = time.time()
    viewer = MjpegReader(fw.port)
    viewer.opening()
    seqs = [seq_of(viewer.part()[1])]
    at_once = time.time() - began
    seqs += [seq_of(viewer.part()[1]) for _ in range(2)]
    woke = time.time() - began
    assert at_once < 0.5, at_once  # the latest frame, at once
    assert woke < 0.8, woke  # then new frames at the sensor's rate, not one a second
    assert seqs == sorted(set(seqs))
    viewer.close()


def test_a_mono_sensor_streams_in_grayscale(start):
    fw = start(env={"SIM_SENSOR": "mono"})  # refuses RGB565, as HM01B0 and HM0360 do
    assert wait_for(lambda: fw.status()["captures"] >= 10)
    assert fw.status()["capture_errors"] == 0
    assert snapshot(fw)[:2] == b"\xff\xd8"
    assert fw.console().count("this sensor has no RGB565") == 1, fw.console()
