import os
import shutil
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from firmware import IMAGE, MICROPYTHON, TESTCARD, Firmware  # noqa: E402


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
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    profile = tempfile.mkdtemp()
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--user-data-dir=" + profile):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)
