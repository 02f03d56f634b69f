"""Console log that repeats a message at most once a second."""
import time

_last = {}


def log(*parts):
    print(*parts)


def log_limited(key, *parts):
    """Print unless `key` was printed less than a second ago; returns True if printed."""
    now = time.ticks_ms()
    then = _last.get(key)
    if then is not None and time.ticks_diff(now, then) < 1000:
        return False
    _last[key] = now
    print(*parts)
    return True
