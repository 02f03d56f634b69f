"""The SD card, mounted at /sdcard by the camera itself. The board boots from its flash even
with a card in (the deploy writes /flash/SKIPSD, which OpenMV's start-up obeys), so nobody
else mounts the card, and a card pulled out and put back is mounted again here."""
import vfs

MOUNT = "/sdcard"


def slot():
    """The board's SD card slot as OpenMV's start-up finds it (pyb on stm32, machine on
    mimxrt), or None: the board has none."""
    try:
        import pyb
        return pyb.SDCard()
    except (ImportError, AttributeError, OSError, ValueError):
        pass
    try:
        import machine
        return machine.SDCard(1)
    except (ImportError, AttributeError, OSError, ValueError):
        return None


def mounted():
    return any(point == MOUNT for _, point in vfs.mount())


def mount(again=False):
    """Mount the card if one is in (`again`: even if it is mounted, as after it was pulled
    out: the old mount holds a card that is gone). True when it was mounted here."""
    card = slot()
    if card is None or not card.present() or (mounted() and not again):
        return False
    try:
        vfs.umount(MOUNT)
    except OSError:
        pass
    vfs.mount(vfs.VfsFat(card), MOUNT)  # OSError: no FAT filesystem on it
    return True
