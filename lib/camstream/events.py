"""Server-Sent Events on /events: each vision result, once, to every listener.

A result is formatted once, however many listeners there are, and a listener still writing
when newer results arrive skips to the newest, as a slow viewer skips frames.
"""
from .viewers import Holder


class Events:
    """The latest vision result as one shared SSE message."""

    def __init__(self, vision):
        self.vision = vision
        self.seq = -1
        self.message = b""

    def latest(self):
        vision = self.vision
        if vision.seq != self.seq:
            self.seq = vision.seq
            self.message = b"event: vision\nid: %d\ndata: %s\n\n" % (vision.seq,
                                                                      vision.latest.encode())
        return self.message


class EventStream(Holder):
    """A listener's text/event-stream body: the latest result at once, then each new one."""

    def __init__(self, viewers, events):
        super().__init__(viewers)
        self.events = events
        self.seq = -1

    def __aiter__(self):
        return self

    async def __anext__(self):
        vision = self.events.vision
        while vision.latest is None or vision.seq == self.seq:
            await vision.event.wait()
        self.seq = vision.seq
        return self.events.latest()
