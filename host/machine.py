"""Host stand-in for the parts of MicroPython's `machine` module the firmware uses (never flashed).

`WDT` counts feeds. On the fake board ($FAKEBOARD_WDT names a file) each feed also rewrites
that file, and the board's supervisor resets the interpreter when it goes stale: the watchdog
then outlives soft resets and cannot be stopped, as on the board. `reset()` ends the process
with the exit status the supervisor reads as a hard reset. `Timer` runs its callback from a
thread. The LED names are OpenMV's. `SDCard` is mimxrt's slot (card.py mounts it).
"""
import os
import sys
import time

HARD_RESET_STATUS = 42  # the fake board's supervisor restarts the interpreter from boot.py + main.py
wdt = None


class WDT:
    def __init__(self, id=0, timeout=5000):
        global wdt
        self.timeout = timeout
        self.feeds = 0
        self.last_feed = time.ticks_ms()
        self._file = os.getenv("FAKEBOARD_WDT")
        wdt = self
        self.feed()

    def feed(self):
        self.feeds += 1
        self.last_feed = time.ticks_ms()
        if self._file:
            with open(self._file, "w") as f:
                f.write(str(self.timeout))


def reset():
    sys.exit(HARD_RESET_STATUS)


class Timer:
    """A periodic virtual timer (id -1); the callback runs on its own thread."""
    PERIODIC = 1

    def __init__(self, id=-1, period=1000, mode=PERIODIC, callback=None):
        import _thread
        self._running = True
        _thread.start_new_thread(self._run, (period, callback))

    def _run(self, period, callback):
        while self._running:
            time.sleep_ms(period)
            if self._running:
                callback(self)

    def deinit(self):
        self._running = False


class LED:
    NAMES = ("LED_RED", "LED_GREEN", "LED_BLUE")
    lit = set()

    def __init__(self, name):
        if name not in self.NAMES:
            raise ValueError(name)
        self.name = name

    def on(self):
        LED.lit.add(self.name)

    def off(self):
        LED.lit.discard(self.name)


class SDCard:
    """mimxrt's `machine.SDCard(1)` with a card that is a FAT image file, $SIM_CARD_IMAGE
    ($SIM_CARD_KB, default 65536; made and formatted on first use, as cards come). Without
    it the slot is empty. While `<image>.gone` exists the card is out: `present()` is False
    and block reads and writes answer -EIO. As on the board, a card is powered up only by
    ioctl INIT (a mount): one put back answers -EIO until it is mounted again."""
    EIO = 5
    powered = False  # the slot's state, whatever object asks

    def __init__(self, id=1):
        self.path = os.getenv("SIM_CARD_IMAGE")
        try:
            self.path and os.stat(self.path)
        except OSError:
            self._make()

    def _make(self):
        with open(self.path, "wb") as f:
            f.seek(int(os.getenv("SIM_CARD_KB") or 65536) * 1024 - 1)
            f.write(b"\0")
        import vfs
        vfs.VfsFat.mkfs(self)
        SDCard.powered = False

    def present(self):
        try:
            os.stat(self.path + ".gone")
            inside = False
        except (OSError, TypeError):  # TypeError: no image, an empty slot
            inside = bool(self.path)
        if not inside:
            SDCard.powered = False
        return inside

    def _blocks(self, block, buf, write):
        if not (self.present() and SDCard.powered):
            return -self.EIO
        with open(self.path, "r+b") as f:
            f.seek(block * 512)
            if write:
                f.write(buf)
            else:
                f.readinto(buf)
        return 0

    def readblocks(self, block, buf):
        return self._blocks(block, buf, False)

    def writeblocks(self, block, buf):
        return self._blocks(block, buf, True)

    def ioctl(self, op, arg):
        if op == 1:  # INIT
            SDCard.powered = self.present()
            return 0 if SDCard.powered else -self.EIO
        if op == 2:  # DEINIT
            SDCard.powered = False
            return 0
        if op == 3:  # SYNC
            return 0
        if op in (4, 5):  # BLOCK_COUNT, BLOCK_SIZE
            if not SDCard.powered:
                return -self.EIO
            return os.stat(self.path)[6] // 512 if op == 4 else 512
        return None
