"""Real clients: ffmpeg and a headless Chromium reading the live stream."""
import os
import re
import subprocess
import time

from firmware import ROOT


def test_ffmpeg_reads_30_frames_without_boundary_warnings(start):
    fw = start()
    run = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "info", "-i", fw.url + "/stream.jpg",
         "-frames:v", "30", "-f", "null", "-"], capture_output=True, timeout=60)
    log = run.stderr.decode(errors="replace")
    assert run.returncode == 0, log
    assert "Stream #0:0: Video: mjpeg" in log, log
    frames = [int(n) for n in re.findall(r"frame=\s*(\d+)", log)]
    assert frames and frames[-1] == 30, log
    for warning in ("boundary", "Expected", "invalid", "error", "Error", "corrupt"):
        assert warning not in log, log


def test_browser_shows_live_video(start, browser, tmp_path):
    fw = start()
    browser.set_window_size(480, 400)
    browser.get(fw.url + "/")
    img = browser.find_element("id", "live")
    deadline = time.time() + 15
    while time.time() < deadline and not browser.execute_script(
            "return arguments[0].complete && arguments[0].naturalWidth", img):
        time.sleep(0.1)
    assert browser.execute_script("return arguments[0].naturalWidth", img) == 320
    shots = []
    for _ in range(3):
        shots.append(img.screenshot_as_png)
        time.sleep(0.5)
    (tmp_path / "browser.png").write_bytes(shots[-1])
    assert len(set(shots)) == 3, "the picture changes over time"
    grab = ("var c=document.createElement('canvas');c.width=320;c.height=240;"
            "var x=c.getContext('2d');x.drawImage(arguments[0],0,0);"
            "var d=x.getImageData(0,0,320,240).data,s=0;for(var i=0;i<d.length;i+=97)s+=d[i];"
            "return s;")
    sums = set()
    for _ in range(3):
        sums.add(browser.execute_script(grab, img))
        time.sleep(0.4)
    assert len(sums) >= 2, "the image's pixels change over time"
    assert min(sums) > 0, "the image is not blank"


def test_browser_event_source_receives_vision_events(start, browser):
    with open(os.path.join(ROOT, "examples", "track_ball.py")) as f:
        fw = start(vision=f.read())
    browser.get(fw.url + "/")
    browser.set_script_timeout(15)
    events = browser.execute_async_script("""
        var done = arguments[arguments.length - 1], got = [];
        var source = new EventSource('/events');
        source.addEventListener('vision', function (e) {
            got.push({id: e.lastEventId, data: JSON.parse(e.data)});
            if (got.length == 5) { source.close(); done(got); }
        });
        source.onerror = function () { source.close(); done(got); };""")
    assert len(events) == 5, events
    for event in events:
        assert int(event["id"]) == event["data"]["seq"] and event["data"]["result"]["found"]
    ids = [int(e["id"]) for e in events]
    assert ids == sorted(set(ids))
