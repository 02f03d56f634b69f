"""Scripts under tests/mp/ run inside MicroPython against the flash image's modules."""
import glob
import os
import subprocess

import pytest

from firmware import HOST, IMAGE, MICROPYTHON, ROOT, TESTCARD

MP = os.path.join(ROOT, "tests", "mp")
SCRIPTS = sorted(glob.glob(os.path.join(MP, "test_*.py")))


@pytest.mark.parametrize("script", SCRIPTS, ids=os.path.basename)
def test_micropython_script(script, tmp_path):
    """Run from a folder of its own, everything it needs linked in and named relatively:
    no path of the checkout's reaches the interpreter."""
    for name, target in (("lib", os.path.join(IMAGE, "lib")), ("host", HOST),
                         ("testcard", TESTCARD), ("check.py", os.path.join(MP, "check.py")),
                         ("settings.example.json", os.path.join(ROOT, "settings.example.json")),
                         (os.path.basename(script), script)):
        os.symlink(target, tmp_path / name)
    env = dict(os.environ, MICROPYPATH="lib:host:.frozen", SIM_TESTCARD="testcard", SIM_FPS="30")
    run = subprocess.run([MICROPYTHON, "-X", "heapsize=256K", "-m",
                          os.path.basename(script)[:-3]], capture_output=True, text=True,
                         timeout=120, env=env, cwd=tmp_path)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out
    assert out.strip().splitlines()[-1].endswith(" 0 failed"), out
