"""The recorded clips over HTTP: the list, downloads (with Range, so players can seek), the
thumbnails, a clip replayed as MJPEG at its pace, deletion, and a clip on demand. Loaded only
when settings ask for recording."""
import asyncio
import json

from microdot import Response

from . import avi
from ..hub import BOUNDARY, CLOSING, HEADER, OPENING
from .recorder import start, valid_name

PIECE = 1024  # bytes of a file read and sent at a time


def plain(body, status, reason):
    return Response(body + "\n", status, {"Content-Type": "text/plain; charset=UTF-8"}, reason)


class Piece:
    """A byte range of an open file, read PIECE bytes at a time (a response body)."""

    def __init__(self, f, start, length):
        self.f = f
        self.left = length
        f.seek(start)

    def read(self, n):
        data = self.f.read(min(n, self.left, PIECE)) if self.left > 0 else b""
        self.left -= len(data)
        return data

    def close(self):
        self.f.close()


class Replay:
    """A clip's frames as multipart MJPEG, one every 1/fps s: it plays in an <img>."""

    def __init__(self, path, fps):
        self.f = open(path, "rb")
        self.frames = avi.frames(self.f)
        self.period = 1000 // fps
        self.opened = False

    def __aiter__(self):
        return self

    async def __anext__(self):
        if not self.opened:
            self.opened = True
            return OPENING
        try:
            at, size = next(self.frames)
        except StopIteration:
            self.close()
            raise StopAsyncIteration
        await asyncio.sleep_ms(self.period)
        self.f.seek(at)
        return HEADER % (size, "0") + self.f.read(size) + CLOSING

    def close(self):
        self.f.close()


def byte_range(header, size):
    """(start, length) that a Range header asks for, None for the whole file, or False
    when it cannot be served."""
    if not header:
        return None
    if not header.startswith("bytes=") or "," in header:
        return False
    first, _, last = header[6:].partition("-")
    try:
        if not first:
            start = max(size - int(last), 0)
            end = size - 1
        else:
            start = int(first)
            end = min(int(last), size - 1) if last else size - 1
    except ValueError:
        return False
    if start > end or start >= size:
        return False
    return start, end - start + 1


def add_clip_routes(app, cfg, hub, vision):
    """Start the recorder and serve its clips; the function giving /status.json's part."""
    recorder = start(cfg, hub, vision)

    def named(name, suffix):
        """The clip file's path, or None when the name is not a clip's."""
        return recorder.dir + "/" + name + suffix if valid_name(name) else None

    @app.get("/clips.json")
    async def clips(request):
        return Response(json.dumps(recorder.listing()),
                        headers={"Content-Type": "application/json", "Cache-Control": "no-store"})

    @app.get("/clips/<name>")
    async def clip_file(request, name):
        base, _, kind = name.rpartition(".")
        path = named(base, "." + kind) if kind in ("avi", "jpg") else None
        try:
            f = open(path, "rb") if path else None
        except OSError:
            f = None
        if f is None:
            return plain("No such clip", 404, "Not Found")
        f.seek(0, 2)
        size = f.tell()
        wanted = byte_range(request.headers.get("Range"), size)
        if wanted is False:
            f.close()
            return Response("", 416, {"Content-Range": "bytes */%d" % size},
                            "Range Not Satisfiable")
        start, length = wanted or (0, size)
        headers = {"Content-Type": "video/x-msvideo" if kind == "avi" else "image/jpeg",
                   "Content-Length": str(length), "Accept-Ranges": "bytes",
                   "Cache-Control": "no-store"}
        if kind == "avi":
            headers["Content-Disposition"] = 'attachment; filename="%s"' % name
        if wanted:
            headers["Content-Range"] = "bytes %d-%d/%d" % (start, start + length - 1, size)
        return Response(Piece(f, start, length), 206 if wanted else 200, headers,
                        "Partial Content" if wanted else "OK")

    @app.get("/clips/<name>/stream.jpg")
    async def replay(request, name):
        path = named(name, ".avi")
        try:
            body = Replay(path, recorder.fps) if path else None
        except OSError:
            body = None
        if body is None:
            return plain("No such clip", 404, "Not Found")
        return Response(body, headers={
            "Content-Type": "multipart/x-mixed-replace; boundary=" + BOUNDARY,
            "Cache-Control": "no-store", "Connection": "close"})

    @app.delete("/clips/<name>")
    async def delete(request, name):
        if not valid_name(name) or not recorder.delete(name):
            return plain("No such clip", 404, "Not Found")
        return Response("", 204, {}, "No Content")

    @app.post("/record")
    async def record(request):
        try:
            seconds = json.loads(request.body or b"").get("seconds")
        except (ValueError, AttributeError):
            seconds = None
        limit = cfg["record.max_s"]
        if not isinstance(seconds, int) or isinstance(seconds, bool) or \
                not 1 <= seconds <= limit:
            return plain('Send {"seconds": N}, N a whole number from 1 to %d (record.max_s)'
                         % limit, 400, "Bad Request")
        recorder.record(seconds)
        return {"recording": seconds}

    return recorder.stats
