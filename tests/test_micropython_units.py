"""Scripts under tests/mp/ run inside MicroPython against the flash image's modules."""
import glob
import os
import subprocess

import pytest

from firmware import IMAGE, MICROPYTHON, ROOT, TESTCARD

SCRIPTS = sorted(glob.glob(os.path.join(ROOT, "tests", "mp", "test_*.py")))


@pytest.mark.parametrize("script", SCRIPTS, ids=os.path.basename)
def test_micropython_script(script):
    env = dict(os.environ, MICROPYPATH="%s/lib:%s/host:.frozen" % (IMAGE, ROOT),
               SIM_TESTCARD=TESTCARD, SIM_FPS="30")
    run = subprocess.run([MICROPYTHON, "-X", "heapsize=256K", script], capture_output=True,
                         text=True, timeout=120, env=env, cwd=os.path.dirname(script))
    out = run.stdout + run.stderr
    assert run.returncode == 0, out
    assert out.strip().splitlines()[-1].endswith(" 0 failed"), out
