"""Make sure the commands the tests drive are installed: install the missing Debian packages
where this user can (root with apt-get), else stop with one line naming the command to run.

Usage: python3 tools/host_tools.py COMMAND[:PACKAGE[+PACKAGE...]] ...
(the packages a command needs beside its own, such as plugins, follow it with +; a COMMAND
that is a path, such as a Python module's file, is looked for as one, with * for any text)
"""
import glob
import os
import shutil
import subprocess
import sys


def missing(wanted):
    """The Debian packages whose command is not on PATH, in the order asked."""
    packages = []
    for item in wanted:
        command, _, package = item.partition(":")
        there = glob.glob(command) if command.startswith("/") else shutil.which(command)
        for one in (package or command).split("+"):
            if not there and one not in packages:
                packages.append(one)
    return packages


def main(wanted):
    packages = missing(wanted)
    if not packages:
        return 0
    apt = shutil.which(os.environ.get("APT_GET", "apt-get"))
    if apt is None or os.geteuid() != 0:
        print("make test needs %s: run  sudo apt-get install %s" % (", ".join(packages),
                                                                   " ".join(packages)))
        return 1
    print("installing %s (apt-get)" % " ".join(packages), flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for args in (["update", "-qq"], ["install", "-y", "-qq", "--no-install-recommends"] + packages):
        if subprocess.call([apt] + args, env=env, stdout=subprocess.DEVNULL):
            print("apt-get %s failed: run  sudo apt-get install %s" % (args[0], " ".join(packages)))
            return 1
    still = missing(wanted)
    if still:
        print("still missing after apt-get: %s" % " ".join(still))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
