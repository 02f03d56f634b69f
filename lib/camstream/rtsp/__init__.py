"""RTSP (settings `rtsp.*`), plugged in when there is an `rtsp` object: RTP/JPEG (RFC 2435)
cut once per frame (jpeg.py) and served to every session over TCP, UDP or multicast
(server.py)."""
from .server import start as plug  # noqa: F401
