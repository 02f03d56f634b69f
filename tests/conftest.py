import os
import shutil
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from firmware import IMAGE, MICROPYTHON, TESTCARD, Firmware, chromium  # noqa: E402


def pytest_sessionstart(session):
    for path in (MICROPYTHON, os.path.join(IMAGE, "main.py"), TESTCARD):
        if not os.path.exists(path):
            pytest.exit("missing %s: run the tests with `make test`" % path, 2)


@pytest.fixture
def start(tmp_path):
    """Start firmware processes (keyword arguments as Firmware takes them); all stop at the end."""
    running = []

    def _start(**kwargs):
        workdir = tmp_path / ("fw%d" % len(running))
        workdir.mkdir()
        fw = Firmware(str(workdir), **kwargs)
        running.append(fw)
        return fw

    yield _start
    for fw in running:
        fw.stop()


@pytest.fixture
def browser():
    driver, profile = chromium()
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)
