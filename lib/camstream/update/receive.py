"""POST /update: a new image over the network, into the slot not in use, then a reset into
it on trial (see boot.py). Loaded only when a login is set.

The body (tools/deploy_http.py sends it) is a head, then the files' bytes in its order:

    camstream-image 1
    build <id>
    file <bytes> <path>      (one line per file, in the order of the build id's hash)
    end

Written a piece at a time, never held whole. Checked before anything switches: the paths
(the slot's own, nothing else), the room on the flash (507 before a byte is written), each
file's length, the build id (the hash of what arrived), and boot.py and main.py, which an
update cannot change (they stay the flash's own, as the USB deploy put them). Anything
wrong, a second upload (409) or a dropped connection leaves the running image as it was.
"""
import asyncio
import binascii
import hashlib
import json
import os

from microdot import Response

from .. import paced
from ..log import log
from ..slots import read, remove, running, write

MAX_BYTES = 2 * 1024 * 1024  # the largest upload taken at all: more than any image
MAX_FILES = 64
PIECE = 1024  # bytes read and written at a time
READ_TIMEOUT_MS = 10000  # a client silent for this long mid-upload is given up
ROOM_MARGIN = 8 * 1024  # left free on the flash after the image
RESET_DELAY_MS = 500  # time for the answer to reach the client
OWN = ("BUILD", "lib/camstream/build.mpy")  # not in the build id's hash
LAUNCHERS = ("boot.py", "main.py")  # the flash's own: an update must bring the same


class Refused(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def add_route(app, build):
    """Take updates on `app`; `build` is the running image's id."""
    busy = []
    app.allow_body("/update", MAX_BYTES)

    @app.post("/update")
    async def update(request):
        if busy:
            try:
                await Body(request).drain()
            except Refused:
                pass
            return answer(409, "an update is already being received")
        busy.append(True)
        body = None
        try:
            body = Body(request)
            slot, new = await receive(body)
        except Refused as exc:
            log("update: refused (%d): %s" % (exc.status, exc))
            if body is not None:
                await body.drain()
            return answer(exc.status, str(exc))
        finally:
            busy.clear()
        log("update: build %s written to slot %s; resetting into it, on trial" % (new, slot))
        asyncio.create_task(reset_soon())
        return {"build": new, "slot": slot, "previous_build": build}


def answer(status, message):
    reasons = {400: "Bad Request", 409: "Conflict", 411: "Length Required",
               422: "Unprocessable Entity", 500: "Internal Server Error",
               507: "Insufficient Storage"}
    return Response(message + "\n", status, {"Content-Type": "text/plain; charset=UTF-8"},
                    reasons[status])


async def reset_soon():
    await asyncio.sleep_ms(RESET_DELAY_MS)
    import machine
    machine.reset()


class Body:
    """The request body, read in pieces within a time limit, never past its length."""

    def __init__(self, request):
        self.stream = request.stream
        self.left = request.content_length
        if not self.left:
            raise Refused(411, "send the image with a Content-Length")

    async def drain(self):
        """Read what is left of the body, to answer a refusal: a connection closed with
        bytes unread is reset, and the client could lose the answer."""
        try:
            while self.left > 0:
                await self.read(PIECE)
        except Refused:
            pass

    async def read(self, n):
        if self.left <= 0:
            raise Refused(400, "the body ended early")
        try:
            data = await asyncio.wait_for_ms(self.stream.read(min(n, self.left)),
                                             READ_TIMEOUT_MS)
        except asyncio.TimeoutError:
            self.left = 0  # nothing more to wait for
            raise Refused(400, "the upload stalled for %d s" % (READ_TIMEOUT_MS // 1000))
        if not data:
            self.left = 0
            raise Refused(400, "the connection closed mid-upload")
        self.left -= len(data)
        return data

    async def line(self, pending):
        """A head line (pending: bytes read past the last one): (line, pending)."""
        while b"\n" not in pending:
            if len(pending) > 256:
                raise Refused(400, "not an image: a head line over 256 bytes")
            pending += await self.read(PIECE)
        line, _, pending = pending.partition(b"\n")
        return line.decode(), pending


async def receive(body):
    """Read, write and check the image; switch to it. (slot, build), else Refused."""
    build, files, pending = await read_head(body)
    slot = "b" if running() == "a" else "a"
    make_room(slot, sum(size for size, _ in files))
    digest = hashlib.sha256()
    try:
        for size, path in files:
            pending = await write_file(body, slot, size, path, pending, digest)
        if pending or body.left:
            raise Refused(400, "the body is longer than its files")
        got = binascii.hexlify(digest.digest()).decode()[:12]
        if got != build or read(slot + "/BUILD.new") != build:
            raise Refused(400, "the files do not make build %s (their hash: %s)" % (build, got))
        for name in LAUNCHERS:
            if not same(slot + "/" + name, name):
                raise Refused(422, "this image changes %s: deploy it over USB once "
                              "(make deploy)" % name)
        os.rename(slot + "/BUILD.new", slot + "/BUILD")  # the slot is complete
    except Exception as exc:
        remove(slot + "/BUILD.new")  # the slot stays incomplete: boot.py never picks it
        if isinstance(exc, Refused):
            raise
        raise Refused(500, "not written: %r" % (exc,))
    switch(slot)
    return slot, build


async def read_head(body):
    line, pending = await body.line(b"")
    if line != "camstream-image 1":
        raise Refused(400, "not an image (make deploy HOST=... sends one)")
    line, pending = await body.line(pending)
    kind, _, build = line.partition(" ")
    if kind != "build" or not 0 < len(build) <= 32 or \
            not all(c.isalpha() or c.isdigit() for c in build):
        raise Refused(400, "no build id in the head")
    files = []
    while True:
        line, pending = await body.line(pending)
        if line == "end":
            break
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != "file" or not parts[1].isdigit() or \
                len(files) >= MAX_FILES:
            raise Refused(400, "a bad head line: %r" % line[:80])
        files.append((int(parts[1]), check_path(parts[2])))
    if not any(path == "BUILD" for _, path in files):
        raise Refused(400, "no BUILD file in the image")
    return build, files, pending


def check_path(path):
    """A path inside the slot: BUILD, the launchers, or under lib/, in plain names."""
    names = path.split("/")
    plain = all(name and name not in (".", "..") and
                all(c.isalpha() or c.isdigit() or c in "._-" for c in name) for name in names)
    if not plain or not (path == "BUILD" or path in LAUNCHERS or names[0] == "lib"):
        raise Refused(400, "a path outside the image: %r" % path[:80])
    return path


def make_room(slot, size):
    """Empty `slot` (the image not running) if the flash has room for `size` bytes in it."""
    held = emptied(slot, False)
    stat = os.statvfs(".")
    free = stat[1] * stat[4] + held - ROOM_MARGIN
    if size > free:
        raise Refused(507, "the image needs %d bytes; the flash has %d free" % (
            size, max(free, 0)))
    emptied(slot, True)


def emptied(path, delete):
    """The bytes of the files under `path`, deleted when `delete` (BUILD first: from then
    on boot.py never picks the slot)."""
    total = 0
    try:
        names = sorted(os.listdir(path), key=lambda name: name != "BUILD")
    except OSError:
        return 0
    for name in names:
        full = path + "/" + name
        if os.stat(full)[0] & 0x4000:  # a folder
            total += emptied(full, delete)
            if delete:
                os.rmdir(full)
        else:
            total += os.stat(full)[6]
            if delete:
                os.remove(full)
    return total


async def write_file(body, slot, size, path, pending, digest):
    """Write one file of `size` bytes; what was read past it."""
    target = slot + "/" + (path + ".new" if path == "BUILD" else path)
    folder = ""
    for name in target.split("/")[:-1]:
        folder = folder + "/" + name if folder else name
        try:
            os.mkdir(folder)
        except OSError:
            pass
    hashed = path not in OWN
    if hashed:
        digest.update(path.encode() + b"\0")
    left = size
    with open(target, "wb") as f:
        while left:
            piece = pending or await body.read(min(PIECE, left))
            piece, pending = piece[:left], piece[left:]
            await paced.write(f, piece)
            if hashed:
                digest.update(piece)
            left -= len(piece)
    return pending


def same(one, other):
    """Whether two files hold the same bytes (read a piece at a time)."""
    try:
        with open(one, "rb") as a, open(other, "rb") as b:
            while True:
                piece = a.read(256)
                if piece != b.read(256):
                    return False
                if not piece:
                    return True
    except OSError:
        return False


def switch(slot):
    """Boot `slot` from the next reset, on trial, with the running slot to go back to."""
    old = running()
    if old:
        write("previous", old)
        write("trial", slot + " 0")
    write("active", slot)

