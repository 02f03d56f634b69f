"""The camera firmware's package."""
import gc
import sys


def forget(*names):
    """Drop modules camstream.`name`, not needed again: their room in the heap is freed."""
    for name in names:
        if sys.modules.pop("camstream." + name, None) is not None:
            delattr(sys.modules["camstream"], name)
    gc.collect()
