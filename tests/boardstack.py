"""The boards' network stack on the desk: the firmware under MicroPython with modlwip on lwIP
(`../shared/micropython-lwip/`), reached through TUN devices in a network namespace that the
test makes with that folder's `netns-run`. The test's thread enters the namespace, so every
client it starts (sockets, threads, curl, ffmpeg) talks to the board stack over the TUN link;
nothing leaves the machine, and the namespace disappears with the test."""
import ctypes
import os
import re
import subprocess
import threading

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STACK = os.path.normpath(os.path.join(ROOT, "..", "shared", "micropython-lwip"))
PROFILES = {  # name: (interpreter, what it stands for)
    "8000": ("micropython", "RT1062, Nicla Vision, Portenta H7, GIGA: 8000-byte lwIP heap"),
    "n6": ("micropython-n6", "N6: 64 KB lwIP heap"),
}
CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def missing():
    """Why the board-stack tests cannot run here, or None when they can."""
    if not os.path.exists(os.path.join(STACK, "netns-run")):
        return "no board network stack at %s" % STACK
    if os.geteuid() != 0:
        return "the board network stack needs root (a network namespace of its own)"
    return None


def interpreter(profile):
    return os.path.join(STACK, PROFILES[profile][0])


def _setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns")


class BoardNet:
    """A network namespace with TUN devices tun1..tunN (the host end 10.77.N.1, the board
    10.77.N.2), shaped like Wi-Fi when `rate` (`10mbit`) and `delay` (`3ms`, each way) are
    given. `enter()` moves the calling thread into it; `close()` leaves and ends it."""

    def __init__(self, rate=None, delay=None, tuns=4):
        env = dict(os.environ, TUNS=" ".join(str(n) for n in range(1, tuns + 1)))
        env.pop("LINK_RATE", None)
        env.pop("LINK_DELAY", None)
        if rate:
            env["LINK_RATE"] = rate
        if delay:
            env["LINK_DELAY"] = delay
        # the holder prints the link delay the interpreter must apply (no netem here), then
        # waits for its stdin to close
        self.holder = subprocess.Popen(
            [os.path.join(STACK, "netns-run"), "sh", "-c",
             'echo "delay=${MICROPY_LWIP_LINK_DELAY_MS:-}"; exec cat >/dev/null'],
            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        line = self.holder.stdout.readline().decode()
        if not line.startswith("delay="):
            self.holder.kill()
            raise RuntimeError("netns-run failed: %s" % self.holder.stderr.read().decode())
        self.link_delay_ms = line.strip()[len("delay="):]
        self.next_tun = 1
        self.home = None

    def enter(self):
        self.home = os.open("/proc/self/task/%d/ns/net" % threading.get_native_id(),
                            os.O_RDONLY)
        fd = os.open("/proc/%d/ns/net" % self.holder.pid, os.O_RDONLY)
        try:
            _setns(fd)
        finally:
            os.close(fd)

    def board_env(self, profile_tun=None):
        """The environment of a board-stack interpreter on the next free TUN device (or
        `profile_tun`), and its address."""
        n = profile_tun or self.next_tun
        self.next_tun = max(self.next_tun, n + 1)
        env = {"MICROPY_LWIP_TUN": "tun%d" % n, "MICROPY_LWIP_ADDR": "10.77.%d.2" % n,
               "MICROPY_LWIP_PEER": "10.77.%d.1" % n, "MICROPY_LWIP_TRACE": "1"}
        if self.link_delay_ms:
            env["MICROPY_LWIP_LINK_DELAY_MS"] = self.link_delay_ms
        return env, "10.77.%d.2" % n

    def close(self):
        if self.home is not None:
            _setns(self.home)
            os.close(self.home)
            self.home = None
        if self.holder.poll() is None:
            self.holder.stdin.close()
            try:
                self.holder.wait(5)
            except subprocess.TimeoutExpired:
                self.holder.kill()
                self.holder.wait()


def blocked(lines):
    """(total, longest) ms the VM was held in modlwip's ERR_MEM waits, from the stack's exit
    summary in the firmware's console; None before it exits."""
    for line in reversed(lines):
        match = re.search(r"VM blocked in them (\d+) ms total, (\d+) ms max", line)
        if match:
            return int(match.group(1)), int(match.group(2))
    return None
