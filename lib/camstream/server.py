"""HTTP connections: bounded request heads, deadlines, zero-copy writes, a close on every path.

microdot reads requests with asyncio's unbounded `readline`, has no timeouts and writes through
`Stream.awrite`, which copies whatever a busy socket cannot take yet. This subclass reads the
head through `HeadReader`, writes through `SocketWriter`, and polices every connection: a
request head must arrive within a deadline, and a socket that accepts nothing for
`stall_ms` is closed. On a board's lwIP stack the writes go through the `Link`, and the
connections are kept within the stack's count.

On lwIP a GET request's last byte is left unread in the socket until the connection ends
(link.Holding), so that a dropped connection is reset.
"""
import asyncio
import socket
import time
from asyncio import core  # MicroPython's scheduler: its I/O queue, as Stream.drain uses it

from microdot import Microdot, Request, Response

from .log import log_limited

Request.max_content_length = 1024  # the largest body a route takes (POST /control): larger get 413
Request.max_body_length = 1024
BUSY = b"HTTP/1.0 503 Service Unavailable\r\nRetry-After: 2\r\nContent-Length: 0\r\n\r\n"
EAGAIN = 11
LINGER_MS = 200  # a 503's answer has arrived by then: the connection is reset


def no_delay(sock):
    """Send small writes at once (Nagle off), with the stack's own option numbers (lwIP's
    TCP_NODELAY is 0x40; POSIX's, which the unix port's module does not name, is 1)."""
    try:
        sock.setsockopt(getattr(socket, "IPPROTO_TCP", 6), getattr(socket, "TCP_NODELAY", 1), 1)
    except (OSError, AttributeError):
        pass  # a stack without the option: small writes may wait for an ACK


class Rejected(Exception):
    """A request refused before it reached a route."""

    def __init__(self, status, reason):
        super().__init__(reason)
        self.status = status
        self.reason = reason


class Closed(Exception):
    """The client went away before sending a whole request."""


class HeadReader:
    """The connection's reader, bounded: line length, head size and header count. Body headers
    are checked as they arrive, so a bad one is refused before anything waits for a body."""

    held = 0  # bytes of the head left in the socket (link.Holding, on lwIP)

    def __init__(self, stream, max_line, max_head, max_headers):
        self.stream = stream
        self.max_line = max_line
        self.head_left = max_head
        self.lines_left = max_headers + 2  # the request line and the blank line end
        self.buf = b""
        self.length = None  # the Content-Length given

    async def _fill(self):
        try:
            data = await self._read()
        except OSError:
            self.failed()
            raise
        if not data:
            raise Closed()
        self.buf += data

    def failed(self):
        """A read raised (the client reset the connection): close the socket now, before
        another task writes to it. Once a read has reported the reset, modlwip's write uses
        the connection lwIP has freed (the VM crashes); a closed socket's write raises."""
        self.stream.s.close()

    def _read(self):
        return self.stream.read(512)

    def release(self):
        """Read what the head left in the socket (nothing here: see link.Holding)."""

    async def readline(self):
        while True:
            end = self.buf.find(b"\n") + 1
            if end or len(self.buf) > self.max_line:
                break
            await self._fill()
        line = self.buf[:end] if end else self.buf
        self.buf = self.buf[len(line):]
        self.head_left -= len(line)
        self.lines_left -= 1
        if len(line) > self.max_line or self.head_left < 0 or self.lines_left < 0:
            raise Rejected(431, "Request Header Fields Too Large")
        if b"\x00" in line:
            raise Rejected(400, "Bad Request")
        self._check_body_header(line)
        return line

    def _check_body_header(self, line):
        """Refuse what would leave the server waiting for a body it cannot frame: a
        Content-Length that is not a plain number or that contradicts another, and any
        Transfer-Encoding (no route takes a chunked body)."""
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"transfer-encoding":
            raise Rejected(400, "Bad Request")
        if name == b"content-length":
            value = value.strip()
            if not value.isdigit() or len(value) > 9 or self.length not in (None, value):
                raise Rejected(400, "Bad Request")
            self.length = value

    async def read(self, n=-1):
        self.release()  # a body follows the head
        if not self.buf:
            await self._fill()
        if n < 0:
            n = len(self.buf)
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    async def readexactly(self, n):
        self.release()
        while len(self.buf) < n:
            await self._fill()
        return await self.read(n)


class SocketWriter:
    """Writes buffers to the non-blocking socket straight from where they are: nothing is
    copied when the socket is busy, and nothing yields when the socket takes it all. On
    lwIP, the `link` writes them, in turn with every other connection."""

    def __init__(self, stream, deadline, link=None):
        self.sock = stream.s
        self.deadline = deadline  # for the request head; None once it has arrived
        self.blocked_since = None  # while the socket takes nothing
        self.body = None  # the response body being written
        self.head = None  # the HeadReader, which may hold the request's last byte
        self.link = link
        if link:
            self.rest = self.more = None  # the buffer the link writes, and those to follow
            self.at = 0  # how much of `rest` is written
            self.failure = None  # the socket's error, raised in the writer's task
            self.done = asyncio.Event()

    def peer_gone(self):
        """True if the client has closed or reset the connection. Only once the request is
        read: this reads (and drops) whatever the client sent after it. While the request's
        last byte is held, only a reset shows (the byte would come before the close)."""
        held = self.head.held
        try:
            return (self.sock.recv(held + 1, socket.MSG_PEEK) if held else
                    self.sock.recv(1)) == b""
        except OSError as exc:
            return exc.args[0] != EAGAIN

    def write_now(self, buf):
        """Write what the socket takes of `buf` at once, never waiting: the bytes taken (on
        lwIP none: the link writes them in turn)."""
        return 0 if self.link else self.sock.write(buf) or 0

    async def awrite(self, buf, more=None):
        """Write `buf`, then each buffer the iterator `more` gives (memoryviews, each asked for
        once the one before is all written)."""
        if self.link:
            await self.link.write(self, buf, more)
            return
        while buf is not None:
            rest = buf  # written whole when the socket takes it: no view or slice per frame
            while len(rest):
                n = self.sock.write(rest) or 0  # None: the socket took nothing
                if n == len(rest):
                    break
                if n or self.blocked_since is None:  # the stall clock runs from the last progress
                    self.blocked_since = time.ticks_ms()
                rest = memoryview(rest)[n:]
                yield core._io_queue.queue_write(self.sock)
            self.blocked_since = None
            buf = more and next(more, None)


class Server(Microdot):
    """microdot with request limits, deadlines, stall detection and a connection cap."""

    def __init__(self, head_timeout_ms=5000, max_line=2048, max_head=4096, max_headers=32,
                 stall_ms=10000, max_connections=12, limits=None):
        super().__init__()
        self.link = None  # on lwIP (stack.Limits given), the one writer of every connection
        self.reader = HeadReader  # the request heads' reader
        if limits:
            from .link import Link, Holding
            self.link = Link(limits, lambda out: self.drop(out.task))
            self.reader = type("HoldingReader", (Holding, HeadReader), {})
        self.head_timeout_ms = head_timeout_ms
        self.stall_ms = stall_ms
        self.head_limits = (max_line, max_head, max_headers)
        self.max_connections = max_connections
        self.open = {}  # connection task: its SocketWriter
        self.large_bodies = {}  # path: the largest body its route takes, past 1 KB (streamed)
        self.heartbeat = time.ticks_ms()  # the watchdog's last round: the event loop is alive
        self.rejected = 0
        self.timed_out = 0
        self.stalled = 0
        self.turned_away = 0
        self.socket_errors = 0

    async def start_server(self, host="0.0.0.0", port=80, backlog=5):
        """Listen with room for a burst of connections: asyncio's default backlog is 5."""
        if self.link:
            asyncio.create_task(self.link.run())
        self.server = await asyncio.start_server(self.handle_request, host, port, backlog)
        await self.server.wait_closed()

    async def handle_request(self, reader, writer):
        if len(self.open) >= self.max_connections and not self.prune():  # bounds the heap
            await self._turn_away(reader, writer)
            return
        task = asyncio.current_task()
        out = self.open[task] = SocketWriter(
            writer, time.ticks_add(time.ticks_ms(), self.head_timeout_ms), self.link)
        out.head = self.reader(reader, *self.head_limits)
        out.task = task
        res = None
        try:
            no_delay(out.sock)
            try:
                req = await self._read_request(out.head, writer)
            except Rejected as exc:
                self.rejected += 1
                req = None
                res = Response(exc.reason + "\n", exc.status, {"Connection": "close"}, exc.reason)
            out.deadline = None
            if req is not None:
                res = await self.dispatch_request(req)
                req = None  # a long response need not keep the request's objects alive
            if res is not None and res is not Response.already_handled:
                out.body = res.body
                await res.write(out)
        except Closed:
            pass
        except OSError as exc:  # a reset, EIO (5) as OpenMV reports it, a timeout...
            self.socket_errors += 1
            log_limited("socket", "connection error %r" % (exc,))
        except Exception as exc:
            log_limited("request", "request failed: %r" % (exc,))
        finally:
            if self.open.pop(task, None):  # not dropped: a clean close, but for a 503
                try:
                    if self.link and res is not None and res.status_code == 503:
                        await asyncio.sleep_ms(LINGER_MS)  # then a reset (see _turn_away)
                    else:
                        out.head.release()
                except OSError:
                    pass
            close = res is not None and getattr(res.body, "close", None)
            if close:
                close()
            try:
                await writer.aclose()
            except OSError:
                pass

    async def _turn_away(self, reader, writer):
        """Answer 503 to a connection beyond the cap, once its request is read (closed with
        it unread, the socket would reset before the answer arrives). On lwIP the last byte
        is held, and the socket reset LINGER_MS after the answer, so that a client that keeps
        the connection open holds none of lwIP's few (a close would leave it held)."""
        self.turned_away += 1
        try:
            await asyncio.wait_for_ms(self.reader(reader, *self.head_limits)._fill(), 1000)
        except Exception:  # nothing came: the reset is sooner
            pass
        try:
            await SocketWriter(writer, None, self.link).awrite(BUSY)
            if self.link:
                await asyncio.sleep_ms(LINGER_MS)
            await writer.aclose()
        except OSError:
            pass

    async def _read_request(self, head, writer):
        try:
            req = await Request.create(self, head, writer, writer.get_extra_info("peername"))
        except (Rejected, Closed, OSError):
            raise
        except MemoryError:
            raise Rejected(503, "Service Unavailable")
        except Exception:  # microdot's parser: ValueError, IndexError, UnicodeError...
            req = None
        if req is None or not req.url.startswith("/") or req.http_version not in ("1.0", "1.1"):
            raise Rejected(400, "Bad Request")
        if req.path in self.large_bodies:
            req.max_content_length = self.large_bodies[req.path]
        return req

    def allow_body(self, path, limit):
        """Let `path` take a body of up to `limit` bytes; its route reads it from
        request.stream, a piece at a time."""
        self.large_bodies[path] = limit

    def writer(self, task):
        """The SocketWriter of connection `task`."""
        return self.open.get(task)

    def drop(self, task):
        """End a connection now: its response lets go of what it holds, its task is cancelled,
        and its socket is reset (the request's last byte is left unread)."""
        out = self.open.pop(task, None)
        if out is None:  # not an HTTP connection (RTSP's): its task closes its socket
            task.cancel()
            return
        close = getattr(out.body, "close", None)
        if close:
            close()
        out.sock.close()  # now, not when the task next runs: what it holds is freed at once
        task.cancel()

    def prune(self):
        """Drop the connections whose client has gone (closed or reset) but whose response
        has not noticed yet, so its slot is free at once. Returns how many."""
        gone = [task for task, out in self.open.items() if out.deadline is None and out.peer_gone()]
        for task in gone:
            self.drop(task)
        return len(gone)

    async def listening(self):
        """Return once start_server's socket is listening."""
        while self.server is None:
            await asyncio.sleep_ms(5)

    async def watchdog(self):
        """Close connections whose request is late (slowloris) or whose socket has stalled."""
        while True:
            await asyncio.sleep_ms(250)
            now = self.heartbeat = time.ticks_ms()
            for task, out in list(self.open.items()):
                if out.deadline is not None and time.ticks_diff(now, out.deadline) > 0:
                    self.timed_out += 1
                elif out.blocked_since is not None and \
                        time.ticks_diff(now, out.blocked_since) > self.stall_ms:
                    self.stalled += 1
                    log_limited("stall", "closed a stalled connection (%d so far)" % self.stalled)
                else:
                    continue
                self.drop(task)
