"""A fake OpenMV board on a serial device: the real MicroPython REPL that `mpremote` talks to,
with the board's resets and watchdog (a test fixture, never flashed).

Usage: python tests/fakeboard.py FLASH_DIR DEVICE [HEAP]

DEVICE becomes a link to a pseudo-terminal, the board's USB serial port. Behind it runs the
unix-port interpreter, in FLASH_DIR (the board's /flash), on a terminal of its own where
Ctrl-C interrupts a running program. What the board does on a reset is done here:
- soft reset (Ctrl-D; the unix port exits there): "soft reboot", boot.py, back to the REPL
  (the raw REPL if it was in it), no main.py;
- hard reset (machine.reset(), SIGUSR1 as the reset button, or the watchdog): boot.py, then
  main.py;
- watchdog: once armed (the `machine.WDT` stand-in writes FLASH_DIR/../wdt on every feed)
  it outlives soft resets, and resets the board when not fed for its timeout.
The console, and a line per reset ("fakeboard: ..."), go to stdout as well.
$FAKEBOARD_LINK_BPS, when set, caps the bytes a second the board takes from the port, as a
slow serial link would: a copy then lasts long enough to be interrupted where a test means.
"""
import fcntl
import os
import select
import signal
import subprocess
import sys
import termios
import time
import tty

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MICROPYTHON = os.path.join(ROOT, ".venv", "bin", "micropython")
START = os.path.join(ROOT, "tests", "mp", "fakeboard_start.py")
RAW_REPL = b"raw REPL; CTRL-B to exit"
RESET_LINE = b"fakeboard: machine.reset()"  # fakeboard_start.py's, for a reset in a script
UNREAD_MAX = 4096  # console output kept for a serial port nobody reads


def note(text):
    sys.stdout.buffer.write(b"fakeboard: " + text.encode() + b"\n")
    sys.stdout.flush()


class Interpreter:
    """One run of MicroPython, from a reset to the next, on its own terminal."""

    def __init__(self, flash, heap, reset, env):
        self.fd, tty_fd = os.openpty()
        tty.setraw(tty_fd)
        attrs = termios.tcgetattr(tty_fd)
        attrs[3] |= termios.ISIG  # Ctrl-C interrupts a running program, as on the board
        termios.tcsetattr(tty_fd, termios.TCSANOW, attrs)
        environ = dict(env, FAKEBOARD_RESET=reset)
        self.proc = subprocess.Popen(
            [MICROPYTHON, "-X", "heapsize=" + heap, "-i", START], cwd=flash, env=environ,
            stdin=tty_fd, stdout=tty_fd, stderr=tty_fd, start_new_session=True,
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))
        os.close(tty_fd)

    def read(self):
        """Its output, or None once it has ended."""
        try:
            return os.read(self.fd, 4096) or None
        except OSError:  # EIO: the interpreter closed its terminal
            return None

    def write(self, data):
        try:
            os.write(self.fd, data)
        except OSError:
            pass

    def end(self):
        """Stop it (if running); its exit status."""
        if self.proc.poll() is None:
            self.proc.kill()
        status = self.proc.wait()
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        return status


class FakeBoard:
    def __init__(self, flash, device, heap="256K"):
        self.flash = os.path.abspath(flash)
        self.heap = heap
        self.wdt = os.path.join(os.path.dirname(self.flash), "wdt")
        self.env = dict(os.environ, FAKEBOARD_WDT=self.wdt,
                        FAKEBOARD_HOST=os.path.join(ROOT, "host"))
        self.serial, self._port = os.openpty()  # held open: no hang-up when mpremote leaves
        tty.setraw(self._port)
        os.set_blocking(self.serial, False)
        if os.path.lexists(device):
            os.remove(device)
        os.symlink(os.ttyname(self._port), device)
        self.unread = b""
        self.raw = False  # in the raw REPL (a soft reset returns there)
        self.button = False
        self.link_bps = int(os.getenv("FAKEBOARD_LINK_BPS") or 0)
        signal.signal(signal.SIGUSR1, self._press_reset)

    def _press_reset(self, *_):
        self.button = True

    def run(self):
        reset = "power-on"
        while True:
            if reset != "soft" and os.path.exists(self.wdt):
                os.remove(self.wdt)  # a hard reset stops the watchdog
            note("%s reset: boot.py%s" % (reset, "" if reset == "soft" else ", main.py"))
            board = Interpreter(self.flash, self.heap, reset, self.env)
            try:
                if reset == "soft" and self.raw:
                    board.write(b"\x01")
                reset = self._relay(board)
            finally:
                board.end()
            if reset == "soft":
                self._console(b"MPY: soft reboot\r\n")

    def _relay(self, board):
        """Pass bytes both ways until the interpreter ends; which reset follows."""
        while True:
            wanted = [self.serial] if self.unread else []
            readable, writable, _ = select.select([self.serial, board.fd], wanted, [], 0.1)
            if self.serial in readable:
                data = self._read_serial()
                if b"\x02" in data:
                    self.raw = False
                board.write(data)
                if self.link_bps:
                    time.sleep(len(data) / self.link_bps)
            if board.fd in readable:
                data = board.read()
                if data is None:
                    return "soft" if board.end() == 0 else "hard"
                if RAW_REPL in data:
                    self.raw = True
                self._console(data)
                if RESET_LINE in data:
                    return "hard"
            if writable:
                self._flush()
            if self.button:
                self.button = False
                return "hard"
            if self._watchdog_expired():
                note("watchdog expired")
                return "watchdog"

    def _read_serial(self):
        try:
            return os.read(self.serial, 4096)
        except BlockingIOError:
            return b""

    def _console(self, data):
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        self.unread = (self.unread + data)[-UNREAD_MAX:]
        self._flush()

    def _flush(self):
        try:
            sent = os.write(self.serial, self.unread)
        except BlockingIOError:
            return
        self.unread = self.unread[sent:]

    def _watchdog_expired(self):
        try:
            with open(self.wdt) as f:
                timeout_s = int(f.read() or 0) / 1000
            fed = os.stat(self.wdt).st_mtime
        except (OSError, ValueError):
            return False
        return timeout_s and time.time() - fed > timeout_s


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    FakeBoard(*sys.argv[1:4]).run()
