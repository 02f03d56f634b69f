"""The firmware as a board runs it: boot.py then main.py from the staged image, settings,
login, frame-rate cap."""
import base64
import os
import re
import socket
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from firmware import ROOT, wait_for

BOARD_START = os.path.join(ROOT, "tests", "mp", "board_start.py")


def test_main_joins_wifi_then_serves(start):
    fw = start(script=BOARD_START, env={"SIM_WIFI": "home:secret"},
               settings={"wifi": [{"ssid": "home", "password": "secret"}]})
    console = fw.console()
    assert "wifi: joining home" in console and "access point" not in console
    assert "camera: serving http://127.0.0.1:%d/" % fw.port in console
    assert fw.get("/snapshot.jpg")[0] in (200, 503)


def test_the_camera_is_found_by_its_name(start):
    named = start(settings={"name": "door-cam"})
    assert "(http://door-cam.local:%d/)" % named.port in named.console()
    assert named.status()["name"] == "door-cam"
    unnamed = start()  # openmv- and the end of the MAC: the stand-in's is 02:00:00:5e:10:00
    assert "(http://openmv-5e1000.local:%d/)" % unnamed.port in unnamed.console()
    assert unnamed.status()["name"] == "openmv-5e1000"


def test_no_network_opens_the_wpa2_access_point(start):
    fw = start(script=BOARD_START, settings={"ap": {"ssid": "cam-setup", "password": "12345678"}})
    assert "access point cam-setup (WPA2)" in fw.console()
    assert fw.get("/")[0] == 200


def test_bad_settings_warn_once_each_and_the_camera_still_runs(start):
    fw = start(settings={"camera": {"quality": 500, "framesize": "GIANT"}, "colour": "red"})
    console = fw.console()
    assert console.count("settings: camera.quality") == 1
    assert console.count("settings: camera.framesize") == 1
    assert "unknown setting colour" in console
    assert wait_for(lambda: fw.get("/snapshot.jpg")[0] == 200)


def test_login_guards_every_route(start):
    fw = start(settings={"login": {"user": "ha", "password": "s3cret"}})
    try:
        urllib.request.urlopen(fw.url + "/snapshot.jpg", timeout=10)
    except urllib.error.HTTPError as err:
        offers = [o.split(" ")[0] + " " + (re.search("algorithm=([^,]+)", o) or re.search(
            "()", o)).group(1) for o in err.headers.get_all("WWW-Authenticate")]
        assert err.code == 401 and offers == ["Digest SHA-256", "Digest MD5", "Basic "], offers
    assert fw.get("/stream.jpg")[0] == 401 and fw.get("/")[0] == 401
    token = base64.b64encode(b"ha:s3cret").decode()
    req = urllib.request.Request(fw.url + "/status.json", headers={"Authorization": "Basic " + token})
    with urllib.request.urlopen(req, timeout=10) as res:
        assert res.status == 200


def authorised_get(fw, path, user, password, timeout=10):
    token = base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
    req = urllib.request.Request(fw.url + path, headers={"Authorization": "Basic " + token})
    began = time.time()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as res:
            return res.status, time.time() - began
    except urllib.error.HTTPError as err:
        return err.code, time.time() - began


def test_wrong_credentials_are_slowed_alone_and_no_password_is_logged(start):
    fw = start(settings={"login": {"user": "ha", "password": "s3cret-Pa55"},
                         "wifi": [{"ssid": "home", "password": "wifi-Pa55word"}],
                         "ap": {"password": "short"}}, env={"SIM_WIFI": "home:wifi-Pa55word"})
    with ThreadPoolExecutor(4) as pool:
        guesses = [pool.submit(authorised_get, fw, "/snapshot.jpg", "ha", "guess%d" % i)
                   for i in range(3)]
        time.sleep(0.2)
        rightful = authorised_get(fw, "/status.json", "ha", "s3cret-Pa55")
        results = [g.result() for g in guesses]
    assert rightful[0] == 200 and rightful[1] < 0.5, rightful
    for status, took in results:
        assert status == 401 and took >= 0.9, results
    assert fw.get("/")[0] == 401 and fw.get("/")[0] == 401  # asking without credentials is quick
    assert authorised_get(fw, "/", "ha", "s3cret-Pa55")[0] == 200
    assert authorised_get(fw, "/", "ha", "s3cret-Pa55X")[0] == 401
    assert authorised_get(fw, "/", "h", "s3cret-Pa55")[0] == 401
    console = fw.console()
    for secret in ("s3cret", "Pa55", "short"):
        assert secret not in console, console


def test_a_bad_login_setting_is_named_without_its_password(start):
    fw = start(settings={"login": {"user": "ha", "password": "x" * 70 + "-Secret"}})
    assert "settings: login must be" in fw.console()
    assert "Secret" not in fw.console()


def test_frame_rate_cap(start):
    fw = start(settings={"camera": {"fps_cap": 10, "idle_fps": 0}})  # no viewer, yet 10 fps
    time.sleep(1)
    before, began = fw.status()["captures"], time.time()
    time.sleep(3)
    rate = (fw.status()["captures"] - before) / (time.time() - began)
    assert 8 <= rate <= 11, rate


def test_the_console_says_serving_only_once_the_port_listens(start):
    for _ in range(5):
        fw = start()
        socket.create_connection(("127.0.0.1", fw.port), timeout=5).close()  # no refusal
        fw.stop()


def test_a_port_in_use_gives_one_clear_line(start):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(RuntimeError) as refused:  # it never says it is serving
            start(settings={"port": port})
    console = str(refused.value)
    assert "camera: cannot listen on port %d" % port in console
    assert "Traceback" not in console
