"""Updates over the network (POST /update), plugged in when a login is set: an image received
into the slot not in use (receive.py); the slots themselves are the core's (slots.py), as a
USB deploy writes them too."""
from .receive import add_route as plug  # noqa: F401
