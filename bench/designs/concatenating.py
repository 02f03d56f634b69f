"""Reference design (benchmark only, never flashed): the firmware, except that each viewer
concatenates boundary, headers, JPEG and CRLF into one new bytes object per frame."""
from camstream import viewers
from camstream.hub import CLOSING, HEADER, OPENING


class ConcatenatingStream(viewers.FrameStream):
    async def __anext__(self):
        if self.seq < 0:
            self.seq = 0
            return OPENING
        hub = self.viewers.hub
        frame = hub.frame
        if frame is None or frame.seq == self.seq:
            await hub.event.wait()
            frame = hub.frame
        self.seq = frame.seq
        return HEADER % (len(frame.jpeg), frame.stamp) + bytes(frame.jpeg) + CLOSING


viewers.FrameStream = ConcatenatingStream
import main  # noqa: E402,F401 - runs the firmware with the stream above
