"""HTTP connections: bounded request heads, deadlines, and a close on every path.

microdot reads requests with asyncio's unbounded `readline` and has no timeouts; this
subclass reads the head through `HeadReader`, gives every connection a deadline, and owns
each connection's socket. Streaming responses opt out of the deadline (see `Server.stream`).
"""
import asyncio
import time

from microdot import Microdot, Request, Response

from .log import log_limited

Request.max_content_length = 1024  # no route takes a body: larger ones get 413
Request.max_body_length = 1024


class Rejected(Exception):
    """A request refused before it reached a route."""

    def __init__(self, status, reason):
        super().__init__(reason)
        self.status = status
        self.reason = reason


class Closed(Exception):
    """The client went away before sending a whole request."""


class HeadReader:
    """The connection's reader, bounded: line length, head size and header count."""

    def __init__(self, stream, max_line, max_head, max_headers):
        self.stream = stream
        self.max_line = max_line
        self.head_left = max_head
        self.lines_left = max_headers + 2  # the request line and the blank line end
        self.buf = b""

    async def _fill(self):
        data = await self.stream.read(512)
        if not data:
            raise Closed()
        self.buf += data

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
        return line

    async def read(self, n=-1):
        if not self.buf:
            await self._fill()
        if n < 0:
            n = len(self.buf)
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    async def readexactly(self, n):
        while len(self.buf) < n:
            await self._fill()
        return await self.read(n)


BUSY = b"HTTP/1.0 503 Service Unavailable\r\nRetry-After: 2\r\nContent-Length: 0\r\n\r\n"


class Server(Microdot):
    """microdot with request limits, deadlines and a connection cap; sockets always closed."""

    def __init__(self, head_timeout_ms=5000, max_line=2048, max_head=8192, max_headers=32,
                 response_timeout_ms=10000, max_connections=12):
        super().__init__()
        self.max_connections = max_connections
        self.connections = 0
        self.turned_away = 0
        self.head_timeout_ms = head_timeout_ms
        self.response_timeout_ms = response_timeout_ms
        self.head_limits = (max_line, max_head, max_headers)
        self.deadlines = {}  # connection task: ticks by which it must be done
        self.rejected = 0
        self.timed_out = 0
        self.socket_errors = 0

    def stream(self, task):
        """Exempt a streaming connection from the deadline: its viewer watchdog polices it."""
        self.deadlines.pop(task, None)

    async def handle_request(self, reader, writer):
        if self.connections >= self.max_connections:  # bounds the heap the connections take
            self.turned_away += 1
            try:
                await writer.awrite(BUSY)
            except OSError:
                pass
            await writer.aclose()
            return
        self.connections += 1
        task = asyncio.current_task()
        self.deadlines[task] = time.ticks_add(time.ticks_ms(), self.head_timeout_ms)
        res = None
        try:
            try:
                req = await self._read_request(reader, writer)
            except Rejected as exc:
                self.rejected += 1
                req = None
                res = Response(exc.reason + "\n", exc.status, {"Connection": "close"}, exc.reason)
            if task in self.deadlines:
                self.deadlines[task] = time.ticks_add(time.ticks_ms(), self.response_timeout_ms)
            if req is not None:
                res = await self.dispatch_request(req)
                req = None  # a long response need not keep the request's objects alive
            if res is not None and res is not Response.already_handled:
                await res.write(writer)
        except Closed:
            pass
        except OSError as exc:  # a reset, EIO (5) as OpenMV reports it, a timeout...
            self.socket_errors += 1
            log_limited("socket", "connection error %r" % (exc,))
        except Exception as exc:
            log_limited("request", "request failed: %r" % (exc,))
        finally:
            self.connections -= 1
            self.deadlines.pop(task, None)
            close = res is not None and getattr(res.body, "close", None)
            if close:
                close()
            try:
                await writer.aclose()
            except OSError:
                pass

    async def _read_request(self, reader, writer):
        head = HeadReader(reader, *self.head_limits)
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
        return req

    async def watchdog(self):
        """Close connections past their deadline: slow requests (slowloris), stuck responses."""
        while True:
            await asyncio.sleep_ms(250)
            now = time.ticks_ms()
            for task, deadline in list(self.deadlines.items()):
                if time.ticks_diff(now, deadline) > 0:
                    del self.deadlines[task]
                    self.timed_out += 1
                    log_limited("deadline", "closed a connection past its deadline (%d so far)"
                                % self.timed_out)
                    task.cancel()
