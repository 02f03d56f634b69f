"""`make test` sets up the clients it drives, or names the command that will."""
import os
import subprocess
import sys

from firmware import ROOT

SCRIPT = os.path.join(ROOT, "tools", "host_tools.py")


def run(path, apt=None, *wanted):
    env = dict(os.environ, PATH=str(path), APT_GET=str(apt) if apt else "/nonexistent")
    return subprocess.run([sys.executable, SCRIPT, *wanted], env=env, capture_output=True,
                          text=True, timeout=30)


def fake_command(folder, name, script="exit 0"):
    path = folder / name
    path.write_text("#!/bin/sh\n" + script + "\n")
    path.chmod(0o755)
    return path


def test_present_commands_need_nothing(tmp_path):
    fake_command(tmp_path, "curl")
    out = run(tmp_path, None, "curl")
    assert out.returncode == 0 and out.stdout == ""


def test_without_apt_get_it_stops_with_one_line_naming_the_command(tmp_path):
    fake_command(tmp_path, "curl")
    out = run(tmp_path, None, "curl", "chromium", "chromedriver:chromium-driver")
    assert out.returncode == 1
    assert out.stdout.strip().splitlines() == [
        "make test needs chromium, chromium-driver: run  sudo apt-get install chromium chromium-driver"]


def test_as_root_it_installs_the_missing_packages(tmp_path):
    if os.geteuid() != 0:
        return  # this path is for root; the one above covers everybody else
    log = tmp_path / "apt.log"
    # the fake apt-get "installs" chromedriver by creating it
    apt = fake_command(tmp_path, "apt-get", 'echo "$@" >> %s; case "$1" in install) '
                       'printf "#!/bin/sh\\n" > %s/chromedriver; /bin/chmod +x %s/chromedriver;; esac'
                       % (log, tmp_path, tmp_path))
    fake_command(tmp_path, "curl")
    out = run(tmp_path, apt, "curl", "chromedriver:chromium-driver")
    assert out.returncode == 0, out.stdout + out.stderr
    calls = log.read_text().splitlines()
    assert calls[0].startswith("update") and calls[1].endswith(" chromium-driver"), calls
