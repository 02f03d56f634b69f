"""The camera firmware's package."""
import gc
import sys


def forget(name):
    """Drop module camstream.`name`, not needed again: its room in the heap is freed."""
    del sys.modules["camstream." + name]
    delattr(sys.modules["camstream"], name)
    gc.collect()
