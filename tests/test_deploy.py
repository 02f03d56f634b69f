"""Flashing as a user does: `make deploy` with the real mpremote, against the fake board
(tests/fakeboard.py), in the states a board is found in, with the watchdog armed."""
import json
import os
import pty
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request

import pytest

from firmware import HEAP, IMAGE, ROOT, TESTCARD, free_port, wait_for

FAKEBOARD = os.path.join(ROOT, "tests", "fakeboard.py")
PYTHON = os.path.join(ROOT, ".venv", "bin", "python")
BOARD_TOOL = os.path.join(ROOT, "tools", "board.py")
HANGS = "def process(img):\n    while True:\n        pass\n"


def build_of(image):
    with open(os.path.join(image, "BUILD")) as f:
        return f.read().strip()


def file_count(path):
    return sum(len(names) for _, _, names in os.walk(path))


class FakeBoard:
    """tests/fakeboard.py on a device link in `where`, its console collected line by line."""

    def __init__(self, where, settings=None, env=None, files=None):
        self.flash = os.path.join(where, "flash")
        self.device = os.path.join(where, "ttyACM0")
        os.makedirs(self.flash)
        self.port = free_port()
        with open(os.path.join(self.flash, "settings.json"), "w") as f:
            json.dump(dict(settings or {}, port=self.port), f)
        for name, text in (files or {}).items():
            with open(os.path.join(self.flash, name), "w") as f:
                f.write(text)
        environ = dict(os.environ, SIM_TESTCARD=TESTCARD, SIM_FPS="30", SIM_WIFI="")
        environ.update(env or {})
        self.proc = subprocess.Popen([sys.executable, "-u", FAKEBOARD, self.flash, self.device,
                                      HEAP],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=environ)
        self.lines = []
        threading.Thread(target=self._read, daemon=True).start()
        assert wait_for(lambda: os.path.exists(self.device), 10), self.console()

    def _read(self):
        for raw in self.proc.stdout:
            self.lines.append(raw.decode(errors="replace").rstrip())

    def console(self, since=0):
        return "\n".join(self.lines[since:])

    def wait_for_line(self, text, since=0, timeout=30):
        found = wait_for(lambda: text in self.console(since), timeout)
        assert found, "no %r on the console:\n%s" % (text, self.console(since))

    def deploy(self, image=IMAGE, make=False):
        """Run a deploy to completion: (exit status, its output)."""
        cmd = (["make", "-s", "deploy", "PORT=" + self.device] if make else
               [PYTHON, BOARD_TOOL, "deploy", self.device, image])
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
        return done.returncode, done.stdout + done.stderr

    def build(self, timeout=60):
        """The build the camera serves (from /status.json), once it serves."""
        url = "http://127.0.0.1:%d/status.json" % self.port
        answer = {}

        def ask():
            try:
                with urllib.request.urlopen(url, timeout=2) as res:
                    answer.update(json.load(res))
                return True
            except OSError:
                return False

        assert wait_for(ask, timeout), "the camera does not serve:\n" + self.console()
        return answer["build"]

    def press_reset(self):
        os.kill(self.proc.pid, signal.SIGUSR1)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


@pytest.fixture
def board(tmp_path):
    boards = []

    def _board(**kwargs):
        boards.append(FakeBoard(str(tmp_path / ("board%d" % len(boards))), **kwargs))
        return boards[-1]

    yield _board
    for b in boards:
        b.stop()


@pytest.fixture(scope="module")
def old_image(tmp_path_factory):
    """The image with another build identifier: what the board ran before."""
    image = str(tmp_path_factory.mktemp("old") / "image")
    shutil.copytree(IMAGE, image)
    subprocess.run([PYTHON, os.path.join(ROOT, "tools", "build_id.py"), image, "old0build0"],
                   check=True, capture_output=True)
    return image


def test_make_deploy_to_a_blank_board(board):
    b = board()
    status, output = b.deploy(make=True)
    assert status == 0, output
    new = build_of(IMAGE)
    assert "the board now boots slot a, build " + new in output
    b.wait_for_line("camera: image %s (slot a)" % new)
    assert b.build() == new
    os.remove(os.path.join(b.flash, "SKIPSD"))  # gone (a card put in later would boot)
    since = len(b.lines)
    b.press_reset()
    b.wait_for_line("camera: /flash/SKIPSD written", since)
    assert os.path.exists(os.path.join(b.flash, "SKIPSD"))


def test_deploy_to_a_board_with_an_sd_card_in(board, tmp_path):
    """With a card in, OpenMV boots from the card (tests/mp/fakeboard_start.py does as its
    _boot.py): the image must still go on the flash, and the board boot from there."""
    card = tmp_path / "card"
    card.mkdir()
    b = board(env={"FAKEBOARD_CARD": str(card)})
    status, output = b.deploy()
    assert status == 0, output
    assert "the board booted from its SD card" in output and "SKIPSD written" in output
    new = build_of(IMAGE)
    b.wait_for_line("camera: image %s (slot a)" % new)
    assert b.build() == new
    assert os.path.exists(os.path.join(b.flash, "SKIPSD")) and os.listdir(card) == []


def test_deploy_over_a_running_camera_with_the_watchdog_armed(board, old_image):
    b = board()
    assert b.deploy(old_image)[0] == 0
    assert b.build() == "old0build0"
    assert os.path.exists(os.path.join(os.path.dirname(b.flash), "wdt"))  # armed, fed
    b.wait_for_line("camera: serving")
    since = len(b.lines)
    status, output = b.deploy(make=True)
    assert status == 0, output
    assert b.build() == build_of(IMAGE)
    # the camera stopped for the copy and started after it (announced once it listens)
    b.wait_for_line("camera: serving", since)

    # a copy over USB can outlast the watchdog's 8 s: a 10 s mpremote session is not cut short
    session = subprocess.run([os.path.join(ROOT, ".venv", "bin", "mpremote"), "connect",
                              b.device, "exec", "import time; time.sleep(10); print('done')"],
                             capture_output=True, text=True, timeout=60)
    assert session.returncode == 0 and "done" in session.stdout, session.stdout + session.stderr
    assert "watchdog expired" not in b.console(since), b.console(since)
    # a soft reset is not a start: main.py ran once, after the deploy's hard reset
    assert b.console(since).count("camera: serving") == 1

    # only what changed is copied: slot a holds the old build, slot b the new one
    files = file_count(os.path.join(IMAGE, "lib"))
    into_a = b.deploy()[1]
    b.build()  # the board has restarted: a deploy during its reset would find no REPL
    into_b = b.deploy()[1]
    assert into_a.count("Up to date: ./lib/") == files - 1  # all but build.mpy
    assert into_b.count("Up to date: ./lib/") == files  # nothing to copy but BUILD
    assert b.build() == build_of(IMAGE)


def test_deploy_while_the_wifi_network_is_out_of_reach(board, old_image):
    b = board(settings={"wifi": [{"ssid": "gone", "password": "not-here-1"}]})
    assert b.deploy(old_image)[0] == 0
    b.wait_for_line("wifi: joining gone")  # main.py waits for the network ...
    began = time.time()
    status, output = b.deploy(make=True)  # ... while mpremote soft-resets and copies
    assert status == 0, output
    assert time.time() - began < 20, output  # mpremote allows 10 s per step; boot.py waits for nothing
    new = build_of(IMAGE)
    b.wait_for_line("camera: image %s" % new)
    assert b.build(timeout=90) == new  # after the joins time out, the camera serves
    assert "no network" in b.console()


def test_an_interrupted_deploy_boots_the_old_image_or_the_new_one_whole(board, old_image):
    # a copy of seconds over a slow link: each kill lands in the part of the copy it means,
    # however late a busy machine runs the poll that watches for it
    b = board(env={"FAKEBOARD_LINK_BPS": "16000"})
    assert b.deploy(old_image)[0] == 0
    assert b.build() == "old0build0"
    new = build_of(IMAGE)
    files = file_count(os.path.join(IMAGE, "lib"))
    slot = os.path.join(b.flash, "b")
    points = {  # when to kill mpremote: the slot being written (b) has ...
        "one file": lambda: file_count(slot) >= 1,
        "half the files": lambda: file_count(slot) >= files // 2,
        "its BUILD": lambda: os.path.exists(os.path.join(slot, "BUILD")),
    }
    for point, reached in points.items():
        shutil.rmtree(slot, ignore_errors=True)
        since = len(b.lines)
        deploy = subprocess.Popen([PYTHON, BOARD_TOOL, "deploy", b.device, IMAGE], cwd=ROOT,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  start_new_session=True)
        assert wait_for(reached, 120, interval=0.01), point
        os.killpg(deploy.pid, signal.SIGKILL)
        deploy.wait()
        whole = os.path.exists(os.path.join(slot, "BUILD"))  # the new slot's copy was finished
        b.press_reset()  # the user unplugs the board
        b.wait_for_line("camera: image ", since)
        announced = b.console(since).split("camera: image ")[1].split()[0]
        assert announced in ("old0build0", new), point
        assert whole or announced == "old0build0", point  # never a slot cut short
        assert b.build() == announced, point  # the code that runs is the image announced
        if announced == new:  # switch back for the next point
            assert b.deploy(old_image)[0] == 0
    status, output = b.deploy()
    assert status == 0, output
    assert b.build() == new


def test_a_hung_camera_is_reset_by_the_watchdog(board):
    b = board(files={"vision.py": HANGS})
    assert b.deploy()[0] == 0
    b.wait_for_line("vision: running vision.py")
    b.wait_for_line("fakeboard: watchdog expired", timeout=40)
    b.wait_for_line("fakeboard: watchdog reset: boot.py, main.py")


def test_repl_and_logs_attach_without_a_reset_or_the_watchdog_firing(board):
    b = board()
    assert b.deploy()[0] == 0
    b.build()
    since = len(b.lines)
    for target in ("logs", "repl"):
        controller, terminal = pty.openpty()  # mpremote's repl wants a terminal
        attached = subprocess.Popen(["make", "-s", target, "PORT=" + b.device], cwd=ROOT,
                                    stdin=terminal, stdout=terminal, stderr=terminal)
        time.sleep(10)  # longer than the watchdog's 8 s
        assert b.build(timeout=5) == build_of(IMAGE)
        if target == "repl":  # stop the camera: the REPL must not be reset either
            os.write(controller, b"\x03")
            b.wait_for_line("camera: stopped", since)
            time.sleep(10)
        os.write(controller, b"\x1d")  # Ctrl-]: leave mpremote
        attached.wait(10)
        os.close(controller)
        os.close(terminal)
    assert "fakeboard:" not in b.console(since), b.console(since)
