"""An MQTT 3.1.1 client on the camera's one asyncio loop (OpenMV's frozen `mqtt.py` blocks).

Nothing here waits on the loop's behalf: the connection opens within a time limit, every
read and write goes through the loop, and what is to be published waits in an outbox that
holds the latest message per topic, so nothing grows while the broker is away. The broker
hears a ping every half keep-alive and publishes the last will, availability `offline`
(retained), when the camera falls silent; `online` (retained) follows every connect.
Connection faults are counted, each change of state is one console line, and the client
reconnects with back-off (1 s, growing by half each time, to 30 s). A broker given by name
is looked up once, at start (`resolve`, from app.py), while a look-up may still block (lwIP
waits for DNS with the whole VM): one whose name did not resolve is refused, and never looked
up again.
"""
import asyncio
import socket
import struct
import time
from asyncio import core  # MicroPython's scheduler: its I/O queue, as open_connection uses it
from errno import EINPROGRESS

from ..log import log
from ..server import SocketWriter

CONNECT_TIMEOUT_MS = 5000
WRITE_TIMEOUT_MS = 5000  # a broker that takes no more for this long is given up: a picture
# being written holds a frame buffer
RETRY_MIN_MS = 1000
RETRY_MAX_MS = 30000
MAX_TOPICS = 64  # the outbox's bound: messages to more topics than this wait for a connect
REFUSALS = {1: "protocol version", 2: "client id", 3: "server unavailable",
            4: "bad user name or password", 5: "not authorised"}


class Refused(Exception):
    """The broker answered CONNECT with a refusal."""


def _text(value):
    data = value.encode() if isinstance(value, str) else value
    return struct.pack("!H", len(data)) + data


def _header(kind, n):
    """A packet's fixed header: its type byte and the remaining length, 7 bits a byte."""
    head = bytearray((kind,))
    while True:
        head.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return head


def _packet(kind, body):
    return _header(kind, len(body)) + body


class MqttClient:
    """One broker connection, kept up for as long as `run()` runs."""

    def __init__(self, host, port, client_id, user=None, password=None, will=None,
                 keepalive_s=30, link=None):
        self.address = (host, port)
        self.link = link  # on lwIP, the writer every connection's bytes go through
        self.keepalive_ms = keepalive_s * 1000
        self.will = will  # the availability topic: `offline` by will, `online` on connect
        flags = 0x02  # a clean session: subscriptions are made again on every connect
        body = _text(client_id)
        if will:
            flags |= 0x04 | 0x20  # will, retained, QoS 0
            body += _text(will) + _text("offline")
        if user:
            flags |= 0x80
            body += _text(user)
            if password:
                flags |= 0x40
                body += _text(password)
        self.hello = _packet(0x10, _text("MQTT") + struct.pack("!BBH", 4, flags, keepalive_s)
                             + body)
        self.subscriptions = []  # topic filters, subscribed again on every connect
        self.on_message = None  # called with (topic, payload) for each message received
        self.on_connect = None  # called after each connect: publish what is to be retained
        self.outbox = {}  # topic: (payload, retain); the latest per topic
        self.dropped = 0  # messages to a new topic while the outbox was full
        self.state = "connecting"
        self.connects = 0
        self.errors = 0
        self.last_error = None
        self._queued = asyncio.Event()
        self._heard = 0
        self._lost = None  # why the connection's reader stopped

    def publish(self, topic, payload, retain=False):
        """Queue a message; it replaces any not yet sent to the same topic. `payload` may be
        a function, called when the message is written, giving the bytes and a function to
        call once they are written (or None for nothing to send): a large payload is then
        held only while it is written."""
        if topic in self.outbox or len(self.outbox) < MAX_TOPICS:
            self.outbox[topic] = (payload, retain)
            self._queued.set()
        else:
            self.dropped += 1

    async def sent(self):
        """Return once the outbox is empty: what was published has been written."""
        while self.outbox:
            await asyncio.sleep_ms(10)

    def subscribe(self, topic):
        self.subscriptions.append(topic)

    def stats(self):
        return {"state": self.state, "connects": self.connects, "errors": self.errors,
                "last_error": self.last_error, "queued": len(self.outbox),
                "dropped": self.dropped}

    def _set_state(self, state, why=""):
        if state != self.state:
            self.state = state
            log("mqtt: %s %s:%d%s" % (state, self.address[0], self.address[1], why))

    async def run(self):
        """Connect, serve the connection until it fails, wait, connect again: forever."""
        delay = RETRY_MIN_MS
        while True:
            connects = self.connects
            try:
                await self._session()
            except Refused as exc:
                self._failed("refused", exc)
            except Exception as exc:  # unreachable, timed out, closed mid-packet ...
                self._failed("offline", exc)
            if self.connects != connects:  # it was up: the back-off starts again
                delay = RETRY_MIN_MS
            await asyncio.sleep_ms(delay)
            delay = min(delay * 3 // 2, RETRY_MAX_MS)

    def _failed(self, state, exc):
        self.errors += 1
        self.last_error = repr(exc)
        self._set_state(state, " (%r); again within %d s" % (exc, RETRY_MAX_MS // 1000))

    async def _session(self):
        reader = writer = await self._connect()
        listening = None
        self._lost = None
        out = SocketWriter(writer, None, self.link) if self.link else writer
        try:
            await self._put(out, self.hello)
            ack = await asyncio.wait_for_ms(reader.readexactly(4), CONNECT_TIMEOUT_MS)
            if ack[0] != 0x20:
                raise OSError("not an MQTT broker")
            if ack[3]:
                raise Refused(REFUSALS.get(ack[3], "code %d" % ack[3]))
            self.connects += 1
            self._heard = time.ticks_ms()
            for number, topic in enumerate(self.subscriptions):
                await self._put(out, _packet(0x82, struct.pack("!H", number + 1) + _text(topic)
                                             + b"\x00"))
            if self.will:
                self.publish(self.will, "online", True)
            if self.on_connect:
                self.on_connect()
            self._set_state("online")
            listening = asyncio.create_task(self._listen(reader))
            await self._send(out)
        finally:
            if listening is not None:
                listening.cancel()
            try:
                writer.close()
                await writer.wait_closed()
            except OSError:
                pass

    async def _connect(self):
        """A stream to the broker, connected within CONNECT_TIMEOUT_MS; its socket closed
        on any failure (asyncio's open_connection leaves it open when cancelled, holding one
        of lwIP's five connections)."""
        host, port = self.address
        if not is_address(host):
            raise Refused("%s did not resolve at start: give the broker's address" % host)
        s = socket.socket()
        try:
            s.setblocking(False)
            try:
                s.connect(socket.getaddrinfo(host, port)[0][-1])  # an address: no DNS
            except OSError as exc:
                if exc.args[0] != EINPROGRESS:
                    raise
            await asyncio.wait_for_ms(_writable(s), CONNECT_TIMEOUT_MS)
        except BaseException:  # refused, timed out, cancelled
            s.close()
            raise
        return asyncio.StreamWriter(s, {})

    async def _send(self, out):
        """Write the outbox as it fills, and a ping every half keep-alive; return when the
        broker has not answered for one and a half keep-alives."""
        ping = self.keepalive_ms // 2
        pinged = time.ticks_ms()
        while True:
            if self._lost is not None:
                raise self._lost
            while self.outbox:
                topic = next(iter(self.outbox))
                payload, retain = self.outbox.pop(topic)
                await self._write(out, topic, payload, retain)
            now = time.ticks_ms()
            if time.ticks_diff(now, self._heard) > self.keepalive_ms * 3 // 2:
                raise OSError("the broker fell silent")
            if time.ticks_diff(now, pinged) >= ping:
                await self._put(out, b"\xc0\x00")
                pinged = now
            self._queued.clear()  # the waiter clears, publish() sets
            if not self.outbox:
                try:
                    await asyncio.wait_for_ms(self._queued.wait(), ping)
                except asyncio.TimeoutError:
                    pass

    async def _write(self, out, topic, payload, retain):
        """One PUBLISH (QoS 0), its payload written from where it is."""
        done = None
        if callable(payload):
            payload, done = payload()
            if payload is None:
                return
        elif isinstance(payload, str):
            payload = payload.encode()
        try:
            name = _text(topic)
            await self._put(out, _header(0x30 | retain, len(name) + len(payload)) + name,
                            payload)
        finally:
            if done is not None:
                done()

    async def _put(self, out, *parts):
        """Write `parts` whole; a broker that has not taken them within WRITE_TIMEOUT_MS is
        given up. `out` is the connection's stream, or on lwIP a SocketWriter, which writes
        through the Link in turn with every other connection."""
        try:
            if self.link:
                await asyncio.wait_for_ms(_each(out, parts), WRITE_TIMEOUT_MS)
                return
            for part in parts:
                out.write(part)
            await asyncio.wait_for_ms(out.drain(), WRITE_TIMEOUT_MS)
        except asyncio.TimeoutError:
            raise OSError("the broker stopped reading")

    async def _listen(self, reader):
        """Read packets until the connection ends (then wake the sender to end it too);
        hand each PUBLISH to on_message."""
        try:
            await self._read(reader)
        except Exception as exc:  # EOFError: the broker closed, maybe mid-packet
            if isinstance(exc, OSError):  # a reset: closed before a write (HeadReader.failed)
                reader.s.close()
            self._lost = exc
            self._queued.set()

    async def _read(self, reader):
        while True:
            head = await reader.readexactly(1)
            size, shift = 0, 0
            while True:
                byte = (await reader.readexactly(1))[0]
                size |= (byte & 0x7F) << shift
                shift += 7
                if not byte & 0x80:
                    break
            if size > 4096:
                raise OSError("a %d-byte packet from the broker" % size)
            body = await reader.readexactly(size) if size else b""
            self._heard = time.ticks_ms()
            if head[0] & 0xF0 == 0x30 and self.on_message:  # QoS 0 PUBLISH
                length = struct.unpack("!H", body[:2])[0]
                self.on_message(body[2:2 + length].decode(), body[2 + length:])


def _writable(sock):
    yield core._io_queue.queue_write(sock)


async def _each(out, parts):
    for part in parts:
        await out.awrite(part)


def is_address(host):
    """Whether `host` is an IPv4 address (no look-up needed)."""
    parts = host.split(".")
    return len(parts) == 4 and all(p.isdigit() and int(p) < 256 for p in parts)


def resolve(host):
    """`host`'s address, looked up now (at start, while a look-up may block the loop: lwIP
    waits for DNS with the whole VM); `host` itself when it is one or did not resolve."""
    if is_address(host):
        return host
    try:
        where = socket.getaddrinfo(host, 0)[0][-1]  # lwIP: ("1.2.3.4", 0); unix: a sockaddr
        return where[0] if isinstance(where, tuple) else socket.inet_ntop(socket.AF_INET,
                                                                           where[4:8])
    except (OSError, IndexError) as exc:
        log("mqtt: %s did not resolve (%r): give its address" % (host, exc))
        return host
