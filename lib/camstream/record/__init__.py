"""Recording (settings `record.*`), plugged in when there is a `record` object: the recorder
(recorder.py) writing AVI clips (avi.py) to the SD card (card.py) or the flash, and the clips
over HTTP (clips.py)."""
from .clips import add_clip_routes as plug  # noqa: F401
