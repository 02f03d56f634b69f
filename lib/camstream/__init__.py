"""The camera firmware's package."""
import gc
import sys


def forget(*names):
    """Drop modules camstream.`name`, not needed again: their room in the heap is freed."""
    for name in names:
        del sys.modules["camstream." + name]
        delattr(sys.modules["camstream"], name)
    gc.collect()
