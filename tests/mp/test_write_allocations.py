"""Run under MicroPython: what writing a frame allocates on a board's lwIP stack, whose small
heap collects garbage often (each collection marks the whole heap). The link makes one slice
of a buffer a TCP segment, no more; an RTSP frame written packet by packet (no wire buffer)
adds at most two views a packet, and arrives whole and in order."""
import asyncio
import gc
import struct

from camstream.link import Link
from camstream.rtsp.jpeg import Packetiser
from camstream.rtsp.server import pieces
from check import check, report

MSS = 800


class Limits:
    mss = MSS
    heap = 8000


class Sink:
    """A socket that takes up to a segment a write, keeping the bytes only when asked."""

    def __init__(self, keep):
        self.got = bytearray() if keep else None
        self.writes = 0

    def write(self, buf):
        n = min(len(buf), MSS)
        if self.got is not None:
            self.got.extend(buf[:n])
        self.writes += 1
        return n


class Out:
    def __init__(self, keep):
        self.sock = Sink(keep)
        self.blocked_since = None
        self.done = asyncio.Event()


def write_all(link, out, buf, more=None):
    """Queue the job as link.write() does and run the link's rounds, as its task does, until
    `buf` and `more` are all written: the segments it took."""
    writes = out.sock.writes
    link.queue(out, buf, more)
    while not out.done.is_set():
        link.tokens = 1 << 30
        link._round(0)
    return out.sock.writes - writes


def allocated(job):
    """Bytes `job()` allocated, and what it returned."""
    gc.collect()
    gc.disable()
    try:
        before = gc.mem_alloc()
        result = job()
        return gc.mem_alloc() - before, result
    finally:
        gc.enable()


class Session:
    channel = 0
    packet = None

    def __init__(self, frame):
        self.frame = frame


class Frame:
    def __init__(self, jpeg):
        self.jpeg = jpeg


def main():
    link = Link(Limits, None)
    link.room = None  # no probe: Linux's raw sockets are not lwIP's
    scratch = memoryview(bytearray(16))
    view_bytes, _ = allocated(lambda: scratch[1:2])

    part = bytearray(20600)
    out = Out(False)
    write_all(link, out, part)  # the first write's own objects aside
    spent, segments = allocated(lambda: write_all(link, out, part))
    check("an MJPEG part of %d segments allocates one slice a segment at most, beside the "
          "job's view of it (%d bytes, a slice %d)" % (segments, spent, view_bytes),
          spent <= (segments + 1) * view_bytes)

    with open("testcard/QVGA-q85/00.jpg", "rb") as f:
        jpeg = memoryview(f.read())
    packets = Packetiser().cut(jpeg, 0)
    session = Session(Frame(jpeg))
    each = pieces(session, packets)
    kept = Out(True)
    write_all(link, kept, next(each), each)
    got, at, whole = kept.sock.got, 0, True
    for head, start, end in packets:
        size = len(head) + end - start
        whole = whole and got[at:at + 4] == b"$\x00" + struct.pack(">H", size) and \
            got[at + 4:at + 4 + len(head)] == head and \
            got[at + 4 + len(head):at + 4 + size] == jpeg[start:end]
        at += 4 + size
    check("an RTSP frame's %d packets, written apart, arrive whole and in order"
          % len(packets), whole and at == len(got))

    def rtsp_frame():
        each = pieces(session, packets)
        return write_all(link, out, next(each), each)

    spent, segments = allocated(rtsp_frame)
    generator, _ = allocated(lambda: pieces(session, packets))
    budget = generator + (segments + 2 * len(packets)) * view_bytes
    check("an RTSP frame of %d packets in %d segments allocates one slice a segment and two "
          "views a packet at most (%d bytes, budget %d)" % (len(packets), segments, spent, budget),
          spent <= budget)
    report()


main()
