"""Run under MicroPython: every way a connection can end releases its viewer, frame and socket."""
import asyncio

from camstream.hub import FrameHub
from camstream.server import Server
from camstream.viewers import Viewers
from camstream.web import add_routes
from check import check, report

JPEG = b"\xff\xd8" + bytes(range(256)) * 80 + b"\xff\xd9"  # 20 KB


class Peer:
    """Both ends of an asyncio Stream as microdot sees them; writes fail as a board's might."""

    def __init__(self, request, error=None, after=0, hang=False):
        self.inbox = request
        self.hang = hang  # once the request is read: wait forever, as a silent client does
        self.error = error
        self.after = after
        self.written = 0
        self.closed = False

    async def read(self, n=-1):
        await asyncio.sleep_ms(0)
        if self.hang and not self.inbox:
            await asyncio.sleep(3600)
        data, self.inbox = self.inbox[:n], self.inbox[n:]
        return data

    @property
    def s(self):
        return self  # the socket under the stream

    def write(self, data):
        if self.error is not None and self.written + len(data) > self.after:
            raise self.error
        self.written += len(data)
        return len(data)

    async def awrite(self, data):
        self.write(data)

    async def aclose(self):
        self.closed = True

    def get_extra_info(self, name):
        return ("127.0.0.1", 4321)


def camera():
    hub = FrameHub(24 * 1024, buffers=2)
    hub.publish(memoryview(JPEG), "0.000")
    app = Server()
    viewers = Viewers(hub, 4, app.writer)
    add_routes(app, hub, viewers)
    return hub, viewers, app


def released(hub, viewers, app, peer):
    return (peer.closed and not viewers.streams and not viewers.holders and not app.open
            and all(f.readers == 0 for f in hub.pool))


async def ends_with(name, request, error, after=5000):
    hub, viewers, app = camera()
    peer = Peer(request, error, after)
    await app.handle_request(peer, peer)
    check(name, released(hub, viewers, app, peer) and peer.written <= after)


async def cancelled(name, request):
    hub, viewers, app = camera()
    peer = Peer(request, hang=True)
    task = asyncio.create_task(app.handle_request(peer, peer))
    await asyncio.sleep_ms(30)
    busy = viewers.streams == 1 or len(app.open) == 1
    task.cancel()
    await asyncio.sleep_ms(10)
    check(name, busy and released(hub, viewers, app, peer))


async def main():
    stream = b"GET /stream.jpg HTTP/1.1\r\n\r\n"
    snapshot = b"GET /snapshot.jpg HTTP/1.1\r\n\r\n"
    for code, label in ((5, "EIO"), (110, "ETIMEDOUT"), (104, "ECONNRESET"), (32, "EPIPE"),
                        (9, "EBADF"), (113, "EHOSTUNREACH")):
        await ends_with("stream, %s mid-frame" % label, stream, OSError(code))
        await ends_with("snapshot, %s mid-frame" % label, snapshot, OSError(code))
    await ends_with("stream, MemoryError mid-frame", stream, MemoryError())
    await ends_with("stream, error in the headers", stream, OSError(5), after=10)
    await ends_with("HEAD stream", b"HEAD /stream.jpg HTTP/1.1\r\n\r\n", None)
    await ends_with("client gone before a request", b"", None)
    await ends_with("garbage", b"\x00\x01\x02\r\n\r\n", None)
    await cancelled("stream cancelled (watchdog)", stream)
    await cancelled("request cancelled mid-head (deadline)", b"GET /stream.jpg HTTP/1.1\r\nX-")
    report()


asyncio.run(main())
