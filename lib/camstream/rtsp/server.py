"""RTSP 1.0 (RFC 2326) on the camera's one loop: `rtsp://<camera>:554/stream`, RTP/JPEG over
TCP (interleaved), UDP or multicast.

Each frame is cut into RTP packets once (jpeg.py), for every session, and the packets, each
behind its `$` header, are laid out once in a wire buffer (two at most, reused). Each UDP
client (and the multicast group, once) is sent them from it by `sendto`s that never wait, a
packet the stack cannot take being dropped and counted. Each waiting TCP session is written
the buffer at once, in one write that never waits, as an MJPEG viewer's part is: only a
session whose socket did not take it all wakes its task, to write the rest. Where the heap
has no room for a wire buffer, a UDP packet is built in a scratch buffer, and a TCP
session's packets are written one by one, each laid out behind its `$` header in the
session's packet buffer, the frame held meanwhile. One that falls behind skips to the newest
frame, one stuck for `viewers.stall_timeout_s` is dropped. Sessions count
as viewers, against the one `viewers.max`. A session ends at TEARDOWN, or after
`rtsp.session_s` without a word from its client (a request naming it, on any connection, or
an RTCP report); a TCP session also when its connection closes. While a TCP session plays,
its connection is looked at for requests every LOOK_MS (the Lookout), not waited on. A UDP
client may close its connection once it plays, which leaves the board's few TCP connections
to others. Requests are read with the HTTP server's limits and deadlines.
"""
import asyncio
import gc
import select
import socket
import struct
import time
from asyncio import core

from ..clock import wall_clock
from ..log import log, log_limited
from ..server import Closed, HeadReader, Rejected, SocketWriter, no_delay
from ..viewers import Holder
from .jpeg import PACKET_MAX, Packetiser, Unsupported, parse

PUBLIC = "OPTIONS, DESCRIBE, SETUP, PLAY, GET_PARAMETER, TEARDOWN"
WIRES = 2  # TCP sessions' wire buffers at most: one filled while the other is still sent
ROOM = 64 * 1024  # free heap a wire buffer must leave, for the viewers and vision.py
SR_MS = 5000  # an RTCP sender report this often
LOOK_MS = 250  # how often the connections of playing TCP sessions are looked at for requests
NTP_OFFSET = 2208988800  # seconds from 1900 (NTP) to 1970 (Unix)
PATH = "/stream"
TRACK = "track0"
REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
           415: "Unsupported Media Type", 431: "Request Header Fields Too Large",
           453: "Not Enough Bandwidth", 454: "Session Not Found",
           455: "Method Not Valid in This State", 461: "Unsupported Transport",
           501: "Not Implemented", 503: "Service Unavailable"}


class Reader(HeadReader):
    """The connection's reader: one request at a time within the HTTP server's limits, and the
    client's interleaved `$` frames (its RTCP reports) skipped between them."""

    def __init__(self, stream, limits):
        super().__init__(stream, *limits)
        self.limits = limits
        self.lookout = None  # the Lookout, once a TCP session plays on this connection

    async def _read(self):
        sock = self.stream.s
        while self.lookout:
            data = sock.read(512)  # None: nothing yet
            if data is not None:
                return data
            await self.lookout.wait(sock)
        return await self.stream.read(512)

    def next_request(self):
        self.head_left = self.limits[1]
        self.lines_left = self.limits[2] + 2
        self.length = None

    async def skip_interleaved(self):
        """Drop the `$` frames before the next request: True if there were any."""
        skipped = False
        while True:
            while not self.buf:
                await self._fill()
            if self.buf[0] != 0x24:  # "$"
                return skipped
            while len(self.buf) < 4:
                await self._fill()
            size = 4 + ((self.buf[2] << 8) | self.buf[3])
            while len(self.buf) < size:
                await self._fill()
            self.buf = self.buf[size:]
            skipped = True


class Lookout:
    """The connections of playing TCP sessions, looked at together every LOOK_MS by one poll
    that never waits. Waited on by the loop, each would be polled in every round of it (each
    task's turn), for a client that says little once it plays: a report every 5 s."""

    def __init__(self):
        self.poll = select.poll()
        self.waiting = {}  # socket: the Event its reader waits on

    async def wait(self, sock):
        """Return once `sock` has something to read (or an error), or is forgotten."""
        event = self.waiting[sock] = asyncio.Event()
        self.poll.register(sock, select.POLLIN)
        try:
            await event.wait()
        finally:
            self.forget(sock)

    def forget(self, sock):
        """Stop looking at `sock` (before it closes), and wake its reader."""
        event = self.waiting.pop(sock, None)
        if event:
            self.poll.unregister(sock)
            event.set()

    async def run(self):
        while True:
            await asyncio.sleep_ms(LOOK_MS)
            if self.waiting:
                for sock, _ in self.poll.poll(0):
                    self.forget(sock)


class Session(Holder):
    """One client's stream: a viewer, holding the frame its TCP connection writes."""

    counted = True

    def __init__(self, viewers, number, connection, transport):
        super().__init__(viewers)
        self.id = "%08X" % number
        self.connection = connection
        self.transport = transport  # "tcp", "udp" or "multicast"
        self.channel = 0  # TCP: the RTP channel (RTCP on the next)
        self.rtp = self.rtcp = None  # UDP: the client's addresses
        self.playing = False
        self.heard = time.ticks_ms()
        self.seq = -1  # TCP: the frame last written
        self.rest = None  # what a delivery left: bytes, or the packets to write apart
        self.wire = None  # the wire buffer `rest` is in, held from reuse
        self.packet = None  # where a packet without a wire buffer is laid out behind its `$`
        self.failure = None  # the socket's error on a delivery
        self.woken = asyncio.Event()

    def evict(self):
        self.close()
        self.connection.close()


class Rtsp:
    def __init__(self, cfg, hub, viewers, guard, address, limits, stall_ms, link, connections):
        self.name = cfg["name"]
        self.hub = hub
        self.viewers = viewers
        self.guard = guard
        self.address = address
        self.port = cfg["rtsp.port"]
        self.rtp_port = cfg["rtsp.rtp_port"]
        self.session_ms = cfg["rtsp.session_s"] * 1000
        self.group = cfg["rtsp.multicast"]
        self.limits = limits  # (max line, max head, max headers), as HTTP's
        self.head_ms = cfg["requests.timeout_s"] * 1000
        self.stall_ms = stall_ms
        self.link = link
        self.max_connections = connections
        self.packetiser = Packetiser()
        self.lookout = Lookout()
        self.sessions = []
        self.connections = []
        self.numbers = 0
        self.playing = {"tcp": [], "udp": [], "multicast": []}  # the sessions playing
        self.targets = []  # where each UDP packet goes: every UDP client, and the group once
        self.most = 16  # packets a frame, at most so far
        self.repeated = []  # each target, `most` times: sendto's second arguments
        self.parked = []  # playing TCP sessions with nothing to write: each frame is theirs
        self.latest = None  # (seq, frame, packets, (wire entry, its packets) or None): the last cut
        self.wires = []  # [bytearray, sessions writing it]
        self.apart = False  # the console said frames have no wire buffer
        self.scratch = bytearray(1500)
        self.udp_sent = 0
        self.udp_dropped = 0
        self.refused = 0
        self.unsupported = None  # why the frames cannot be sent, once they could not
        self.rtp = self.rtcp = None

    # serving

    async def serve(self):
        self.rtp = self._udp(self.rtp_port)
        if self.group:
            self.group_address = socket.getaddrinfo(self.group, self.rtp_port)[0][-1]
        self.rtcp = self._udp(self.rtp_port + 1)
        server = await asyncio.start_server(self.connect, "0.0.0.0", self.port, 5)
        log("camera: serving rtsp://%s:%d%s (rtsp://%s.local:%d%s)" % (
            self.address(), self.port, PATH, self.name, self.port, PATH))
        for job in (self.send_frames(), self.reports(), self.listen_rtcp(), self.expire(),
                    self.lookout.run()):
            asyncio.create_task(job)
        await server.wait_closed()

    @staticmethod
    def _udp(port):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(socket.getaddrinfo("0.0.0.0", port)[0][-1])
        sock.setblocking(False)
        return sock

    def stats(self):
        """/status.json's `rtsp` section."""
        return {"sessions": len(self.sessions),
                "playing": {kind: len(them) for kind, them in self.playing.items()},
                "connections": len(self.connections), "packets": self.packetiser.packets,
                "udp_sent": self.udp_sent, "udp_dropped": self.udp_dropped, "requests_refused": self.refused,
                "unsupported": self.unsupported}

    async def connect(self, stream_in, stream_out):
        connection = Connection(self, stream_in)
        if len(self.connections) >= self.max_connections:  # bounds the heap, and lwIP's PCBs
            self.refused += 1
            stream_in.s.close()
            return
        self.connections.append(connection)
        try:
            await connection.run()
        except (OSError, Closed, asyncio.CancelledError):
            pass
        finally:
            connection.close()
            if connection in self.connections:
                self.connections.remove(connection)

    # frames

    async def send_frames(self):
        """Cut each new frame once, for every playing session; send it to the UDP ones."""
        seq = -1
        while True:
            await self.hub.event.wait()
            frame = self.hub.frame
            playing = self.playing
            if frame is None or frame.seq == seq or not (playing["tcp"] or self.targets):
                continue
            seq = frame.seq
            try:
                packets = self.packetiser.cut(frame.jpeg, frame.ticks)
            except Unsupported as exc:
                self._unsupported(exc)
                continue
            wire = self._wire(frame.jpeg, packets)
            self.latest = (seq, frame, packets, wire)
            self._send_udp(frame.jpeg, packets, wire)
            parked, self.parked = self.parked, []
            for session in parked:
                if self._offer(session):
                    self.parked.append(session)
                else:
                    session.woken.set()

    def _wire(self, jpeg, packets):
        """(a free wire buffer's entry, a view of the frame's packets laid out in it, each
        behind its `$` header), or None when none is free and the heap has no room for one
        beside ROOM."""
        size = sum(4 + len(head) + end - start for head, start, end in packets)
        entry = next((w for w in self.wires if not w[1]), None)
        if entry is None or len(entry[0]) < size:
            if entry is None and len(self.wires) >= WIRES:
                return None  # both still being sent: this frame's packets are written apart
            if gc.mem_free() < size * 9 // 8 + ROOM:
                if not self.apart:
                    log("rtsp: no room for a %d-byte frame in one piece: packets are "
                        "written apart" % size)
                self.apart = True
                return None
            try:
                buf = bytearray(size * 9 // 8)
            except MemoryError:
                return None
            if entry is None:
                entry = [buf, 0]
                self.wires.append(entry)
            else:
                entry[0] = buf
        view, at = memoryview(entry[0]), 0
        for head, start, end in packets:
            length = len(head) + end - start
            view[at:at + 4] = b"$\x00" + struct.pack(">H", length)
            view[at + 4:at + 4 + len(head)] = head
            view[at + 4 + len(head):at + 4 + length] = jpeg[start:end]
            at += 4 + length
        return entry, memoryview(entry[0])[:at]

    def _unsupported(self, exc):
        if self.unsupported is None:
            log("rtsp: frames not sent: %s" % exc)
        self.unsupported = str(exc)

    def _send_udp(self, jpeg, packets, wire):
        """Each packet to every UDP target, by a sendto that never waits. From a wire buffer,
        a target's packets go in one call whose loop runs in C (map calls sendto on each
        packet's view, all() drives it); else each packet is built in the scratch buffer and
        sent to every target in turn."""
        targets = self.targets
        if not targets:
            return
        send, dropped = self.rtp.sendto, 0
        if wire is None:
            scratch = memoryview(self.scratch)
            for head, start, end in packets:
                n = len(head)
                scratch[:n] = head
                scratch[n:n + end - start] = jpeg[start:end]
                packet = scratch[:n + end - start]
                for target in targets:
                    try:
                        send(packet, target)
                    except OSError:  # no room in the stack now: the packet is lost, not waited for
                        dropped += 1
        else:
            view, at, views = wire[1], 0, []
            for head, start, end in packets:
                size = len(head) + end - start
                views.append(view[at + 4:at + 4 + size])
                at += 4 + size
            if len(views) > self.most:
                self.most = len(views)
                self._retarget()
            for repeated in self.repeated:
                left, to = iter(views), iter(repeated)
                while True:
                    try:
                        if all(map(send, left, to)):  # every packet sent, or lost as above
                            break
                    except OSError:  # the rest follow
                        dropped += 1
        self.udp_sent += len(packets) * len(targets) - dropped
        self.udp_dropped += dropped

    def _offer(self, session):
        """Write the latest frame to a TCP session at once, never waiting: True when its socket
        took it all. Else its task is to write what is left (`rest`: the rest, or the packets
        apart where there was no wire buffer), or to raise the socket's error (`failure`)."""
        seq, frame, packets, wire = self.latest
        session.seq = seq
        entry, data = wire or (None, None)
        if data is not None and session.channel:  # not the usual pair: a copy, the packets'
            try:  # channels rewritten
                data = memoryview(rechannel(data, session.channel))
            except MemoryError:  # no room for it: this frame's packets go apart
                data = None
        if data is None:
            if frame.seq != seq:  # its buffer holds a newer frame already: that one comes next
                return True
            session.frame = frame.acquire()
            session.rest = packets
            return False
        try:
            taken = session.connection.out.write_now(data)
        except OSError as exc:
            session.failure = exc
            return False
        if taken == len(data):
            return True
        session.rest = data[taken:]
        if not session.channel:
            entry[1] += 1
            session.wire = entry
        return False

    async def play_tcp(self, session, out):
        """A TCP session's task: it writes what a delivery left, then the newest frame if one
        came meanwhile; else it is parked, and send_frames writes it each frame itself."""
        while session.playing:
            if session.failure is not None:
                raise session.failure
            rest, session.rest = session.rest, None
            if rest is None:
                if self.latest is not None and self.latest[0] != session.seq:
                    self._offer(session)
                    continue
                session.woken.clear()  # the waiter clears, a delivery sets: no wake-up lost
                self.parked.append(session)
                await session.woken.wait()
                continue
            try:
                async with session.connection.lock:
                    if isinstance(rest, list):
                        each = pieces(session, rest)
                        await out.awrite(next(each), each)
                    else:
                        await out.awrite(rest)
            finally:
                session._let_go()
                if session.wire:
                    session.wire[1] -= 1
                    session.wire = None

    async def reports(self):
        """An RTCP sender report to each playing session every SR_MS: RTP time to wall time."""
        while True:
            await asyncio.sleep_ms(SR_MS)
            p = self.packetiser
            if p.ticks is None:
                continue
            now = wall_clock.ms()
            ntp = now // 1000 + NTP_OFFSET
            rtp_time = (p.timestamp + 90 * time.ticks_diff(time.ticks_ms(), p.ticks)) \
                & 0xFFFFFFFF
            report = struct.pack(">BBHIIIIII", 0x80, 200, 6, p.ssrc, ntp & 0xFFFFFFFF,
                                 (now % 1000) * 4294967 & 0xFFFFFFFF, rtp_time,
                                 p.packets & 0xFFFFFFFF, p.octets & 0xFFFFFFFF)
            for session in [s for s in self.sessions if s.playing]:
                try:
                    if session.transport == "udp":
                        self.rtcp.sendto(report, session.rtcp)
                    elif session in self.parked:  # not amid a frame or an answer
                        self._report(session, b"$" + bytes((session.channel + 1,)) +
                                     struct.pack(">H", len(report)) + report)
                except OSError:
                    pass

    def _report(self, session, data):
        """Write a report to a parked TCP session at once; what its socket did not take, its
        task writes before the next frame."""
        taken = session.connection.out.write_now(data)
        if taken < len(data):
            self.parked.remove(session)
            session.rest = memoryview(data)[taken:]
            session.woken.set()

    async def listen_rtcp(self):
        """Clients' RTCP reports keep their UDP sessions alive."""
        while True:
            yield core._io_queue.queue_read(self.rtcp)
            try:
                _, sender = self.rtcp.recvfrom(512)
            except OSError:
                continue
            for session in self.sessions:
                if session.rtcp == sender:
                    session.heard = time.ticks_ms()

    async def expire(self):
        """End the sessions whose client has said nothing for rtsp.session_s."""
        while True:
            await asyncio.sleep_ms(1000)
            now = time.ticks_ms()
            for session in list(self.sessions):
                if time.ticks_diff(now, session.heard) > self.session_ms:
                    self.expired(session)
            for connection in list(self.connections):
                out = connection.out
                if out.blocked_since is not None and \
                        time.ticks_diff(now, out.blocked_since) > self.stall_ms:
                    log_limited("rtsp-stalled", "rtsp: a connection that took nothing was "
                                                "dropped")
                    connection.close()

    def expired(self, session):
        log_limited("rtsp-expired", "rtsp: session %s expired: its client fell silent"
                    % session.id)
        self.end(session)

    def play(self, session):
        """Start sending a session the frames."""
        session.playing = True
        self.playing[session.transport].append(session)
        self._retarget()
        self.hub.want()

    def _retarget(self):
        playing = self.playing
        self.targets = [s.rtp for s in playing["udp"]] + (
            [self.group_address] if playing["multicast"] else [])
        self.repeated = [[target] * self.most for target in self.targets]

    def end(self, session):
        if session.playing:
            self.playing[session.transport].remove(session)
            self._retarget()
        session.playing = False
        session.close()
        session.woken.set()  # its task, if parked, ends
        if session in self.parked:
            self.parked.remove(session)
        if session in self.sessions:
            self.sessions.remove(session)
        if session.connection and session.connection.session is session:
            session.connection.session = None

    def find(self, given):
        """The session a request's Session header names, or None."""
        given = (given or "").split(";")[0]
        for session in self.sessions:
            if session.id == given:
                return session
        return None

    def new_session(self, connection, transport):
        self.numbers += 1
        session = Session(self.viewers, self.numbers * 7919 + time.ticks_ms() & 0xFFFFFFF,
                          connection, transport)
        self.sessions.append(session)
        return session


class Connection:
    """One client's RTSP connection: its requests in turn, and its session's TCP frames."""

    def __init__(self, rtsp, stream):
        self.rtsp = rtsp
        self.stream = stream
        self.reader = Reader(stream, rtsp.limits)
        self.out = SocketWriter(stream, None, rtsp.link)
        self.out.task = asyncio.current_task()
        no_delay(stream.s)  # a frame's last segment goes at once, not after the last ACK
        self.peer = stream.get_extra_info("peername")
        self.lock = asyncio.Lock()
        self.session = None
        self.player = None
        self.closed = False

    def close(self):
        if self.closed:
            return
        self.closed = True
        session, self.session = self.session, None
        if session and session.transport == "tcp":
            self.rtsp.end(session)
        elif session:
            session.connection = None  # it plays on: its client may close the connection
        if self.player and self.player is not asyncio.current_task():  # not from its finally
            self.player.cancel()
        self.rtsp.lookout.forget(self.stream.s)
        try:
            self.stream.s.close()
        except OSError:
            pass

    async def run(self):
        first = True
        while not self.closed:
            wait = self.rtsp.head_ms if first else self.rtsp.session_ms
            try:
                request = await asyncio.wait_for_ms(self.read_request(), wait)
            except asyncio.TimeoutError:  # said nothing in time
                if self.session and self.session.transport == "tcp":
                    self.rtsp.expired(self.session)
                return
            except Rejected as exc:
                await self.answer(exc.status, "0")
                return
            first = False
            if request is None:
                return
            await self.handle(*request)

    async def read_request(self):
        """(method, uri, headers) of the next request; the client's `$` frames skipped."""
        reader = self.reader
        if await reader.skip_interleaved() and self.session:
            self.session.heard = time.ticks_ms()
        reader.next_request()
        line = (await reader.readline()).decode().strip()
        parts = line.split(" ")
        if len(parts) != 3 or not parts[2].startswith("RTSP/"):
            raise Rejected(400, "Bad Request")
        headers = {}
        while True:
            header = (await reader.readline()).decode().strip()
            if not header:
                break
            name, _, value = header.partition(":")
            headers[name.strip().lower()] = value.strip()
        if reader.length:
            await reader.readexactly(int(reader.length))  # a body no method here takes
        return parts[0], parts[1], headers

    async def answer(self, status, cseq, headers=None, body=b""):
        lines = ["RTSP/1.0 %d %s" % (status, REASONS.get(status, "Error")), "CSeq: " + cseq]
        for name, value in (headers or {}).items():
            for one in value if isinstance(value, list) else [value]:
                lines.append("%s: %s" % (name, one))
        if body:
            lines.append("Content-Length: %d" % len(body))
        data = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
        session, parked = self.session, self.rtsp.parked
        waiting = session in parked  # no frame is delivered to it while the answer is written
        if waiting:
            parked.remove(session)
        try:
            async with self.lock:
                await self.out.awrite(data)
        finally:
            if waiting:
                session.woken.set()  # its task writes the newest frame, or parks it again

    async def handle(self, method, uri, headers):
        cseq = headers.get("cseq")
        if cseq is None:
            await self.answer(400, "0")
            return
        rtsp = self.rtsp
        if rtsp.guard:
            role, challenge = await rtsp.guard.admit(method, uri, headers.get("authorization"))
            if challenge:
                await self.answer(401, cseq, challenge)
                return
        session = rtsp.find(headers.get("session"))
        if session:
            session.heard = time.ticks_ms()
        path = uri.split("://", 1)[-1].partition("/")[2]
        path = "/" + path.split("?")[0].rstrip("/")
        own = path in (PATH, PATH + "/" + TRACK)
        if method == "OPTIONS" or method == "GET_PARAMETER":
            await self.answer(200, cseq, {"Public": PUBLIC} if method == "OPTIONS" else None)
        elif method in ("DESCRIBE", "SETUP", "PLAY", "TEARDOWN") and not own and uri != "*":
            await self.answer(404, cseq)
        elif method == "DESCRIBE":
            await self.describe(uri, cseq)
        elif method == "SETUP":
            await self.setup(cseq, headers)
        elif method in ("PLAY", "TEARDOWN"):
            if session is None or (session.transport == "tcp" and session is not self.session):
                await self.answer(454, cseq)
            elif method == "TEARDOWN":
                rtsp.end(session)
                await self.answer(200, cseq, {"Session": session.id})
            else:
                await self.play(session, uri, cseq)
        else:
            await self.answer(501, cseq)

    async def describe(self, uri, cseq):
        rtsp = self.rtsp
        frame = rtsp.hub.frame
        if frame is None:
            await self.answer(503, cseq, {"Retry-After": "1"})
            return
        try:
            parse(frame.jpeg)
        except Unsupported as exc:
            rtsp._unsupported(exc)
            await self.answer(415, cseq, {"Content-Type": "text/plain"},
                              ("%s\r\n" % exc).encode())
            return
        base = uri.rstrip("/") + "/"
        sdp = ("v=0\r\no=- %d 1 IN IP4 %s\r\ns=camera\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n"
               "m=video 0 RTP/AVP 26\r\na=control:%s\r\n" % (rtsp.packetiser.ssrc,
                                                               rtsp.address(), TRACK))
        await self.answer(200, cseq, {"Content-Type": "application/sdp", "Content-Base": base},
                          sdp.encode())

    async def setup(self, cseq, headers):
        rtsp = self.rtsp
        if self.session is not None or rtsp.find(headers.get("session")):
            await self.answer(455, cseq)  # one stream a connection, one track a session
            return
        transport = headers.get("transport", "")
        chosen = None
        for offer in transport.split(","):
            fields = [f.strip() for f in offer.split(";")]
            if fields[0] == "RTP/AVP/TCP" and "unicast" in fields:
                chosen = ("tcp", fields)
            elif fields[0] in ("RTP/AVP", "RTP/AVP/UDP"):
                if "multicast" in fields and rtsp.group:
                    chosen = ("multicast", fields)
                elif "multicast" not in fields and any(f.startswith("client_port=")
                                                       for f in fields):
                    chosen = ("udp", fields)
            if chosen:
                break
        if chosen is None:
            await self.answer(461, cseq)
            return
        if rtsp.viewers.full() and chosen[0] != "multicast":
            await self.answer(453, cseq)
            return
        kind, fields = chosen
        session = rtsp.new_session(self, kind)
        values = dict(f.split("=", 1) for f in fields if "=" in f)
        try:
            if kind == "tcp":
                session.channel = int(values.get("interleaved", "0-1").split("-")[0])
                reply = "RTP/AVP/TCP;unicast;interleaved=%d-%d" % (session.channel,
                                                                     session.channel + 1)
                if not 0 <= session.channel <= 254:
                    raise ValueError
            elif kind == "udp":
                low = int(values["client_port"].split("-")[0])
                session.rtp = client_address(self.peer, low)
                session.rtcp = client_address(self.peer, low + 1)
                reply = "RTP/AVP;unicast;client_port=%d-%d;server_port=%d-%d" % (
                    low, low + 1, rtsp.rtp_port, rtsp.rtp_port + 1)
            else:
                reply = "RTP/AVP;multicast;destination=%s;port=%d-%d;ttl=1" % (
                    rtsp.group, rtsp.rtp_port, rtsp.rtp_port + 1)
        except (ValueError, KeyError, IndexError):
            rtsp.end(session)
            await self.answer(461, cseq)
            return
        self.session = session
        await self.answer(200, cseq, {"Transport": reply, "Session": "%s;timeout=%d" % (
            session.id, rtsp.session_ms // 1000)})

    async def play(self, session, uri, cseq):
        rtsp = self.rtsp
        if rtsp.unsupported is not None and rtsp.hub.frame is not None:
            try:
                parse(rtsp.hub.frame.jpeg)
                rtsp.unsupported = None
            except Unsupported as exc:
                await self.answer(415, cseq, body=("%s\r\n" % exc).encode())
                return
        p = rtsp.packetiser
        await self.answer(200, cseq, {"Session": session.id, "Range": "npt=0.000-",
                                      "RTP-Info": "url=%s;seq=%d;rtptime=%d" % (
                                          uri.rstrip("/") + "/" + TRACK if not uri.endswith(
                                              TRACK) else uri, p.seq, p.timestamp)})
        if not session.playing:
            rtsp.play(session)
            if session.transport == "tcp":
                self.reader.lookout = rtsp.lookout
                self.player = asyncio.create_task(self._play(session))

    async def _play(self, session):
        session.task = asyncio.current_task()
        try:
            await self.rtsp.play_tcp(session, self.out)
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            self.close()


def pieces(session, packets):
    """A frame's packets without a wire buffer, the frame held, for one write: each
    copied behind its `$` header into the session's packet buffer once the one before is
    written (on lwIP a header written on its own is a TCP segment of its own), with as
    few allocations as can be (a board's small heap collects garbage often); while the
    heap has no room for that buffer, each header and payload apart."""
    jpeg = session.frame.jpeg
    if session.packet is None:
        try:
            session.packet = bytearray(4 + PACKET_MAX)
        except MemoryError:
            pass
    view = session.packet and memoryview(session.packet)
    for head, start, end in packets:
        size = len(head) + end - start
        if view is None:
            yield memoryview(b"$" + bytes((session.channel,)) + struct.pack(">H", size) + head)
            yield jpeg[start:end]
            continue
        at = 4 + len(head)
        struct.pack_into(">BBH", view, 0, 0x24, session.channel, size)
        view[4:at] = head
        view[at:4 + size] = jpeg[start:end]
        yield view if 4 + size == len(view) else view[:4 + size]  # most are full


def rechannel(wire, channel):
    """A copy of a wire buffer's packets on another interleaved channel."""
    copy, at = bytearray(wire), 0
    while at < len(copy):
        copy[at + 1] = channel
        at += 4 + ((copy[at + 2] << 8) | copy[at + 3])
    return copy


def client_address(peer, port):
    """The address of `port` on the client at `peer` (a tuple on lwIP, a sockaddr elsewhere)."""
    if isinstance(peer, tuple):
        return (peer[0], port)
    return peer[:2] + struct.pack(">H", port) + peer[4:]


def start(cfg, hub, viewers, guard, address, app, connections):
    """Serve RTSP as `cfg` says, beside `app` (its limits, its writer on lwIP), on at most
    `connections` at once, in tasks of its own; returns the function giving /status.json's
    `rtsp` section."""
    rtsp = Rtsp(cfg, hub, viewers, guard, address, app.head_limits, app.stall_ms, app.link,
                connections)
    asyncio.create_task(rtsp.serve())
    return rtsp.stats
