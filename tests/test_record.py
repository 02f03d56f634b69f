"""Recording against real players (ffprobe, Chromium) and a simulated SD card that can be
small, slow, full or pulled out (host/sim_card.py)."""
import json
import os
import re
import signal
import struct
import subprocess
import time

import pytest

from firmware import ROOT, MjpegReader, seq_of, wait_for
from test_robustness import Streaming

CARD_START = os.path.join(ROOT, "tests", "mp", "card_start.py")
FFPROBE = "ffprobe"
HEAP = "1M"  # room for a 2 s pre-roll of QVGA frames, as the boards with MBs of heap have


def motion_source():
    with open(os.path.join(ROOT, "examples", "motion.py")) as f:
        return f.read()


def recording(start, tmp_path, record=None, env=None, vision=True, card=None, **more):
    """Firmware recording to a simulated card (a folder of tmp_path), with motion.py."""
    card_dir = tmp_path / "card"
    card_dir.mkdir(exist_ok=True)
    environ = {"SIM_CARD": str(card_dir)}
    environ.update(card or {})
    environ.update(env or {})
    settings = {"record": dict({"dir": "/sdcard/clips"}, **(record or {}))}
    fw = start(settings=settings, env=environ, script=CARD_START,
               vision=motion_source() if vision else None, **dict({"heap": HEAP}, **more))
    fw.card = str(card_dir)
    return fw


def clips(fw):
    return json.loads(fw.get("/clips.json")[2])


def probe(path):
    """(frames, seconds, fps) as ffprobe reads the file."""
    out = subprocess.run([FFPROBE, "-v", "error", "-count_frames", "-show_entries",
                          "stream=nb_read_frames,r_frame_rate:format=duration", "-of", "json",
                          path], capture_output=True, text=True, check=True).stdout
    info = json.loads(out)
    num, den = info["streams"][0]["r_frame_rate"].split("/")
    return (int(info["streams"][0]["nb_read_frames"]), float(info["format"]["duration"]),
            int(num) / int(den))


def avi_frames(path):
    """The JPEGs of an AVI's movi list, in order."""
    with open(path, "rb") as f:
        data = f.read()
    at, found = 224, []
    while at + 8 <= len(data) and data[at:at + 4] == b"00dc":
        size = struct.unpack("<I", data[at + 4:at + 8])[0]
        found.append(data[at + 8:at + 8 + size])
        at += 8 + size + (size & 1)
    return found


def clip_path(fw, name):
    return os.path.join(fw.card, "clips", name + ".avi")


def test_motion_makes_a_clip_with_its_pre_roll_that_players_read(start, tmp_path):
    fw = recording(start, tmp_path, {"pre_s": 2, "post_s": 1, "max_s": 4},
                   env={"SIM_STILL_FOR_S": "4"})
    assert wait_for(lambda: clips(fw), 40), fw.console()
    clip = clips(fw)[0]
    assert clip["fps"] == 5 and clip["result"]["motion"] is True
    frames, seconds, fps = probe(clip_path(fw, clip["name"]))
    assert abs(frames - clip["frames"]) <= 1, (frames, clip)
    assert fps == 5 and abs(seconds - frames / 5) < 0.25, (seconds, frames)
    thumb = fw.get(clip["thumbnail"])[2]
    assert b"draw=string 4 28 motion" in thumb[:200]  # the frame that started it, drawn on
    seqs = [seq_of(jpeg) for jpeg in avi_frames(clip_path(fw, clip["name"]))]
    assert seqs == sorted(seqs) and len(seqs) == frames
    before = [s for s in seqs if s < seq_of(thumb)]
    assert 8 <= len(before) <= 10, (seqs, seq_of(thumb))  # 2 s at 5 fps, from before it
    status = fw.status()["record"]
    assert status["pre_roll_s"] == 2 and status["clips"] == 1 and status["errors"] == 0


def test_a_still_scene_records_nothing_and_post_record_makes_a_clip(start, tmp_path):
    fw = recording(start, tmp_path, env={"SIM_STILL": "1"})
    time.sleep(4)
    assert clips(fw) == [] and fw.status()["record"]["state"] == "idle"
    for bad in ({"seconds": 0}, {"seconds": "3"}, {"seconds": 9999}, [3]):
        assert fw.post("/record", bad)[0] == 400
    assert fw.post("/record", {"seconds": 3}) == (200, json.dumps({"recording": 3}))
    assert wait_for(lambda: clips(fw), 20)
    clip = clips(fw)[0]
    frames, seconds, _ = probe(clip_path(fw, clip["name"]))
    assert 13 <= frames <= 16 and abs(seconds - 3) <= 0.4, (frames, seconds)
    assert clip["result"] == {"manual": 3}


def test_the_budget_keeps_the_newest_clips(start, tmp_path):
    fw = recording(start, tmp_path, {"max_mb": 1}, env={"SIM_STILL": "1"})
    names = []
    for _ in range(6):  # about 300 KB each: twice the budget
        assert fw.post("/record", {"seconds": 3})[0] == 200
        assert wait_for(lambda: len(clips(fw)) and clips(fw)[0]["name"] not in names, 20)
        names.append(clips(fw)[0]["name"])
        time.sleep(1.1)  # a new second: a new name
    listed = [c["name"] for c in clips(fw)]
    assert names[-1] == listed[0] and names[0] not in listed, (names, listed)
    used = sum(os.path.getsize(os.path.join(fw.card, "clips", f))
               for f in os.listdir(os.path.join(fw.card, "clips")))
    assert used <= 1024 * 1024, used
    assert "deleted for room" in fw.console()


def test_slow_storage_drops_recorded_frames_never_live_ones(start, tmp_path):
    fw = recording(start, tmp_path, {"fps": 10, "max_s": 8},
                   card={"SIM_CARD_MS_PER_KB": "3"})  # 333 KB/s: 200 KB/s asked, 1/3 of it
    # the writer's share
    viewers = Streaming(fw.port, 2)
    assert wait_for(lambda: clips(fw), 40), fw.console()
    seconds, counts = viewers.finish()
    assert min(counts) >= 0.9 * 30 * seconds, (counts, seconds)
    status = fw.status()
    assert status["record"]["frames_dropped"] > 0 and status["frames_skipped"] == 0
    clip = clips(fw)[0]
    frames, _, _ = probe(clip_path(fw, clip["name"]))
    assert abs(frames - clip["frames"]) <= 1


def test_a_full_card_loses_old_clips_then_pauses_until_there_is_room(start, tmp_path):
    fw = recording(start, tmp_path, env={"SIM_STILL": "1"}, card={"SIM_CARD_KB": "2048"})
    junk = os.path.join(fw.card, "photos.bin")  # not a clip: the recorder leaves it alone
    with open(junk, "wb") as f:
        f.write(bytes(1900 * 1024))
    assert fw.post("/record", {"seconds": 3})[0] == 200
    assert wait_for(lambda: fw.status()["record"]["state"] == "paused", 15), fw.status()
    assert fw.status()["record"]["errors"] >= 1 and clips(fw) == []
    viewer = MjpegReader(fw.port)
    viewer.opening()
    assert viewer.part()[1][:2] == b"\xff\xd8"  # the camera streams on
    os.remove(junk)
    assert wait_for(lambda: fw.status()["record"]["state"] == "idle", 15)
    assert fw.post("/record", {"seconds": 2})[0] == 200
    assert wait_for(lambda: clips(fw), 20)


def test_a_card_pulled_mid_clip_keeps_what_was_written(start, tmp_path):
    fw = recording(start, tmp_path, env={"SIM_STILL": "1"})
    assert fw.post("/record", {"seconds": 20})[0] == 200
    assert wait_for(lambda: fw.status()["record"]["frames_written"] >= 10, 20)
    gone = fw.card + ".gone"
    open(gone, "w").close()
    assert wait_for(lambda: fw.status()["record"]["state"] == "no card", 10), \
        (fw.status()["record"], fw.console())
    assert fw.status()["record"]["errors"] >= 1
    os.remove(gone)
    assert wait_for(lambda: clips(fw) and fw.status()["record"]["state"] == "idle", 15)
    clip = clips(fw)[0]
    frames, _, _ = probe(clip_path(fw, clip["name"]))
    assert frames >= 10 and abs(frames - clip["frames"]) <= 1


def test_a_card_put_back_is_mounted_again_and_recording_goes_on(start, tmp_path):
    """The board boots from its flash (SKIPSD), so the camera mounts the card itself, and a
    card put back answers nothing until it is mounted again (host/machine.py's SDCard)."""
    image = str(tmp_path / "card.img")
    fw = start(settings={"record": {"pre_s": 0, "post_s": 0}}, heap=HEAP,
               env={"SIM_CARD_IMAGE": image, "SIM_CARD_KB": "8192", "SIM_STILL": "1"})
    assert fw.post("/record", {"seconds": 1})[0] == 200
    assert wait_for(lambda: len(clips(fw)) == 1, 20), fw.console()
    open(image + ".gone", "w").close()
    assert fw.post("/record", {"seconds": 5})[0] == 200
    assert wait_for(lambda: fw.status()["record"]["state"] == "no card", 15), fw.console()
    os.remove(image + ".gone")
    assert wait_for(lambda: fw.status()["record"]["state"] == "idle", 15), fw.console()
    assert "record: a card is in: mounted at /sdcard" in fw.console()
    assert fw.post("/record", {"seconds": 1})[0] == 200
    assert wait_for(lambda: len(clips(fw)) >= 2, 20), (clips(fw), fw.console())
    newest = clips(fw)[0]
    assert fw.get("/clips/%s.avi" % newest["name"])[2][:4] == b"RIFF"


def test_a_power_cut_mid_clip_is_repaired_at_the_next_start(start, tmp_path):
    fw = recording(start, tmp_path, {"timelapse_s": 1}, env={"SIM_STILL": "1"})
    assert fw.post("/record", {"seconds": 20})[0] == 200
    assert wait_for(lambda: fw.status()["record"]["frames_written"] >= 15, 20)
    os.kill(fw.proc.pid, signal.SIGKILL)
    fw.proc.wait()
    parts = [f for f in os.listdir(os.path.join(fw.card, "clips")) if f.endswith(".part")]
    assert len(parts) == 2, parts  # the clip and today's time-lapse, cut off
    with open(os.path.join(fw.card, "clips", sorted(parts)[-1]), "ab") as f:
        f.write(b"00dc\x00\x50\x00\x00\xff\xd8 half a frame")  # the frame the cut stopped
    # started without the time-lapse, which would take today's file up again at once
    again = recording(start, tmp_path, {"timelapse_s": 0}, env={"SIM_STILL": "1"})
    listed = clips(again)
    assert len(listed) == 2, listed
    for clip in listed:
        frames, seconds, _ = probe(clip_path(again, clip["name"]))
        assert frames == clip["frames"] and frames >= 3, (clip, frames)
    assert "finished after a cut" in again.console()
    assert not [f for f in os.listdir(os.path.join(fw.card, "clips")) if f.endswith(".part")
                and not f.startswith("lapse-")]


def test_clips_over_http_range_replay_delete_and_names_that_escape(start, tmp_path):
    fw = recording(start, tmp_path, env={"SIM_STILL": "1"})
    assert fw.post("/record", {"seconds": 2})[0] == 200
    assert wait_for(lambda: clips(fw), 20)
    clip = clips(fw)[0]
    url = "/clips/%s.avi" % clip["name"]
    with open(clip_path(fw, clip["name"]), "rb") as f:
        whole = f.read()
    out = subprocess.run(["curl", "-s", "-D", "-", "-r", "100-299", fw.url + url],
                         capture_output=True, check=True).stdout
    head, _, body = out.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 206") and b"Content-Range: bytes 100-299/%d" % len(whole) \
        in head
    assert body == whole[100:300]
    assert fw.get(url)[2] == whole
    assert subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-r",
                           "999999999-", fw.url + url], capture_output=True,
                          text=True).stdout == "416"
    frames, _, _ = probe(fw.url + url)  # ffprobe over HTTP, seeking with Range
    assert frames == clip["frames"]
    reader = MjpegReader(fw.port, path="/clips/%s/stream.jpg" % clip["name"])
    began = time.time()
    reader.opening()
    parts = [reader.part() for _ in range(clip["frames"])]
    assert len(parts) == clip["frames"] and time.time() - began >= 0.8 * clip["seconds"]
    for bad in ("/clips/..%2F..%2Fsettings.json", "/clips/../settings.json",
                "/clips/%2Fetc%2Fpasswd.avi", "/clips/20261201-000000.avi",
                "/clips/..%2Fsettings/stream.jpg"):
        status = subprocess.run(["curl", "-s", "--path-as-is", "-o", "/dev/null", "-w",
                                 "%{http_code}", fw.url + bad], capture_output=True,
                                text=True).stdout
        assert status == "404", (bad, status)
    assert fw.get("/clips/" + clip["name"], method="DELETE")[0] == 204
    assert clips(fw) == [] and not os.path.exists(clip_path(fw, clip["name"]))
    assert fw.get("/clips/" + clip["name"], method="DELETE")[0] == 404


def test_the_page_lists_plays_and_deletes_clips(start, tmp_path, browser):
    fw = recording(start, tmp_path, env={"SIM_STILL": "1"})
    assert fw.post("/record", {"seconds": 2})[0] == 200
    browser.get(fw.url + "/")
    assert wait_for(lambda: browser.execute_script(
        "return document.getElementById('rec').style.display") == "inline", 10)
    assert wait_for(lambda: browser.execute_script(
        "var i=document.querySelector('#cliplist img');return i&&i.naturalWidth") == 320, 30)
    name = clips(fw)[0]["name"]
    browser.find_element("css selector", "[data-play='%s']" % name).click()
    assert browser.execute_script("return document.getElementById('live').src").endswith(
        "/clips/%s/stream.jpg" % name)
    browser.find_element("css selector", "[data-del='%s']" % name).click()
    assert wait_for(lambda: clips(fw) == [], 10)
    assert wait_for(lambda: "none yet" in browser.find_element("id", "cliplist").text, 10)


def test_the_pre_roll_is_shortened_to_what_the_heap_holds_and_says_so(start, tmp_path):
    fw = recording(start, tmp_path, heap="512K", vision=False)
    pre = fw.status()["record"]["pre_roll_s"]
    assert 0 < pre < 2, pre
    assert "pre-roll shortened to %.1f s" % pre in fw.console()
    small = start(settings={"record": {}})  # the default heap: no room beside the viewers'
    assert small.status()["record"]["state"] == "no room"
    assert "record: no room in the heap" in small.console()
    assert small.get("/snapshot.jpg")[0] == 200  # the camera streams on


def test_without_record_settings_nothing_of_it_is_loaded(start):
    fw = start()
    assert "record" not in fw.status() and fw.get("/clips.json")[0] == 404
    assert not re.search("record", fw.console())


def test_clips_older_than_keep_days_go_at_start(start, tmp_path):
    folder = tmp_path / "card" / "clips"
    folder.mkdir(parents=True)
    for name in ("20200101-000000", "lapse-20200102"):  # years old
        for suffix in (".avi", ".jpg", ".json"):
            (folder / (name + suffix)).write_bytes(b"old")
    fw = recording(start, tmp_path, {"keep_days": 30}, vision=False)
    assert wait_for(lambda: not os.listdir(folder), 10), os.listdir(folder)
    assert clips(fw) == []


def test_a_card_that_fills_mid_clip_ends_the_clip_whole_and_pauses(start, tmp_path):
    fw = recording(start, tmp_path, env={"SIM_STILL": "1"}, card={"SIM_CARD_KB": "700"})
    assert fw.post("/record", {"seconds": 30})[0] == 200  # 3 MB asked of a 700 KB card
    assert wait_for(lambda: fw.status()["record"]["state"] == "paused", 30), fw.status()
    assert wait_for(lambda: clips(fw), 10)
    clip = clips(fw)[0]
    frames, _, _ = probe(clip_path(fw, clip["name"]))
    assert frames == clip["frames"] and frames >= 10, (frames, clip)
    assert "paused: the card is full" in fw.console()
