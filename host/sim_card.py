"""Host stand-in for an SD card (never flashed): a folder mounted at /sdcard that can be made
small, slow and failing, as cards are. Import it before main.py (tests/mp/card_start.py).

  SIM_CARD          the folder holding the card's files (required)
  SIM_CARD_KB       its capacity (default 65536); a write past it raises ENOSPC
  SIM_CARD_MS_PER_KB  each write blocks for this long per KB written (default 0), as FAT
                    writes block the loop on a board
  while a file SIM_CARD + ".gone" exists, every call raises ENODEV: the card pulled out
"""
import io
import os
import time
import vfs

ENOSPC = 28
ENODEV = 19


class File(io.IOBase):
    def __init__(self, card, f):
        self.card = card
        self.f = f

    def write(self, data):
        self.card.check()
        if self.card.used() + len(data) > self.card.capacity:
            raise OSError(ENOSPC)
        if self.card.ms_per_kb:
            time.sleep_ms(int(self.card.ms_per_kb * len(data) / 1024) or 1)
        return self.f.write(data)

    def read(self, n=-1):
        self.card.check()
        return self.f.read(n)

    def readinto(self, buf):
        self.card.check()
        return self.f.readinto(buf)

    def seek(self, offset, whence=0):
        return self.f.seek(offset, whence)

    def tell(self):
        return self.f.tell()

    def flush(self):
        return self.f.flush()

    def close(self):
        self.f.close()

    def ioctl(self, request, arg):
        if request == 4:  # close
            self.f.close()
        return 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()


class Card:
    """The user VFS MicroPython mounts: paths arrive relative to the mount point."""

    def __init__(self, root, capacity, ms_per_kb):
        self.root = root
        self.capacity = capacity
        self.ms_per_kb = ms_per_kb

    def check(self):
        try:
            os.stat(self.root + ".gone")
        except OSError:
            return
        raise OSError(ENODEV)

    def used(self):
        total = 0
        for folder in self._folders(self.root):
            for entry in os.ilistdir(folder):
                if entry[1] != 0x4000:
                    total += os.stat(folder + "/" + entry[0])[6]
        return total

    def _folders(self, folder):
        yield folder
        for entry in os.ilistdir(folder):
            if entry[1] == 0x4000:
                yield from self._folders(folder + "/" + entry[0])

    def _path(self, path):
        self.check()
        return self.root + path

    def mount(self, readonly, mkfs):
        pass

    def umount(self):
        pass

    def open(self, path, mode):
        return File(self, open(self._path(path), mode))

    def stat(self, path):
        return os.stat(self._path(path))

    def ilistdir(self, path):
        return os.ilistdir(self._path(path))

    def mkdir(self, path):
        os.mkdir(self._path(path))

    def rmdir(self, path):
        os.rmdir(self._path(path))

    def remove(self, path):
        os.remove(self._path(path))

    def rename(self, old, new):
        os.rename(self._path(old), self._path(new))

    def statvfs(self, path):
        self.check()
        blocks = self.capacity // 512
        free = max(self.capacity - self.used(), 0) // 512
        return (512, 512, blocks, free, free, 0, 0, 0, 0, 255)

    def chdir(self, path):
        pass

    def getcwd(self):
        return ""


def _mount():
    root = os.getenv("SIM_CARD")
    if root:
        capacity = int(os.getenv("SIM_CARD_KB") or 65536) * 1024
        vfs.mount(Card(root.rstrip("/"), capacity, float(os.getenv("SIM_CARD_MS_PER_KB") or 0)),
                  "/sdcard")


_mount()
