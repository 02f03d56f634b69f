"""RTP/JPEG (RFC 2435): each frame's JPEG parsed once and cut into RTP packets once, for
every session. The packets carry the scan data alone, with the JPEG header's fields (type
from the chroma subsampling, the quantisation tables in band with Q 255, the restart
interval); a receiver rebuilds the JPEG from them and the standard Huffman tables.

A packet is `(head, start, end)`: its RTP and JPEG headers, built here, and the bounds of its
payload in the frame's JPEG, which stays in the hub's buffer.
"""
import os
import struct
import time

PACKET_MAX = 1400  # bytes of an RTP packet, headers included: under any link's MTU
PAYLOAD_TYPE = 26  # JPEG
RATE = 90  # the RTP clock's ticks a millisecond (90 kHz)
RESTART_ALL = 0x3FFF  # restart header: F=1, L=1, count 0x3FFF (not cut at restart markers)


class Unsupported(ValueError):
    """A JPEG that RFC 2435 cannot carry: the reason, in words."""


def parse(jpeg):
    """(type, width, height, restart interval, quantisation tables, scan start, scan end) of
    a baseline JPEG with 4:2:0 or 4:2:2 chroma; raises Unsupported for anything else."""
    if jpeg[0] != 0xFF or jpeg[1] != 0xD8:
        raise Unsupported("not a JPEG")
    end_of_file = len(jpeg)
    tables, restart, frame, at = {}, 0, None, 2
    while at + 4 <= end_of_file:
        if jpeg[at] != 0xFF:
            raise Unsupported("a broken JPEG")
        marker = jpeg[at + 1]
        if marker == 0xFF:
            at += 1  # a fill byte
            continue
        start, at = at + 4, at + 2 + ((jpeg[at + 2] << 8) | jpeg[at + 3])
        if marker == 0xDB:  # DQT: one or more tables
            p = start
            while p < at:
                if jpeg[p] >> 4:
                    raise Unsupported("16-bit quantisation tables")
                tables[jpeg[p] & 15] = bytes(jpeg[p + 1:p + 65])
                p += 65
        elif marker == 0xC0:  # SOF0, baseline
            frame = start
        elif 0xC1 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            raise Unsupported("not a baseline JPEG")
        elif marker == 0xDD:  # DRI
            restart = (jpeg[start] << 8) | jpeg[start + 1]
        elif marker == 0xDA:  # SOS: the scan follows, up to EOI
            if frame is None:
                raise Unsupported("no frame header")
            stop = end_of_file - 2 if jpeg[end_of_file - 2:end_of_file] == b"\xff\xd9" \
                else end_of_file
            return _frame(jpeg, frame, tables) + (restart, at, stop)
    raise Unsupported("no scan")


def _frame(jpeg, at, tables):
    height, width = (jpeg[at + 1] << 8) | jpeg[at + 2], (jpeg[at + 3] << 8) | jpeg[at + 4]
    if jpeg[at + 5] != 3:
        raise Unsupported("a grayscale JPEG: RTP/JPEG carries colour (YUV) frames only")
    kind = {0x21: 0, 0x22: 1}.get(jpeg[at + 7])
    if kind is None or jpeg[at + 10] != 0x11 or jpeg[at + 13] != 0x11:
        raise Unsupported("chroma subsampling other than 4:2:0 or 4:2:2")
    if width % 8 or height % 8 or width > 2040 or height > 2040:
        raise Unsupported("a frame size RTP/JPEG cannot carry (%dx%d)" % (width, height))
    try:
        quant = tables[jpeg[at + 8]] + tables[jpeg[at + 11]]
    except KeyError:
        raise Unsupported("a quantisation table missing")
    return kind, width, height, quant


class Packetiser:
    """One RTP stream (one SSRC, one sequence space) for every session."""

    def __init__(self):
        self.ssrc, self.seq, self.timestamp = struct.unpack(">IHI", os.urandom(10))
        self.ticks = None  # the capture time of the last frame cut (ticks_ms)
        self.packets = 0
        self.octets = 0

    def cut(self, jpeg, ticks):
        """The frame captured at `ticks` (ms) as RTP packets; raises Unsupported."""
        kind, width, height, quant, restart, scan, stop = parse(jpeg)
        if self.ticks is not None:
            self.timestamp = (self.timestamp + RATE * max(time.ticks_diff(ticks, self.ticks), 1)) & 0xFFFFFFFF
        self.ticks = ticks
        extra = struct.pack(">HH", restart, 0xC000 | RESTART_ALL) if restart else b""
        kind |= 64 if restart else 0
        tables = struct.pack(">BBH", 0, 0, len(quant)) + quant
        packets, offset, size = [], 0, stop - scan
        while offset < size:
            headers = extra + (tables if offset == 0 else b"")
            take = min(PACKET_MAX - 20 - len(headers), size - offset)
            last = offset + take == size
            head = struct.pack(">BBHIIIBBBB", 0x80, PAYLOAD_TYPE | (0x80 if last else 0),
                               self.seq, self.timestamp, self.ssrc, offset, kind, 255,
                               width // 8, height // 8) + headers
            packets.append((head, scan + offset, scan + offset + take))
            self.seq = (self.seq + 1) & 0xFFFF
            self.packets += 1
            self.octets += len(head) - 12 + take
            offset += take
        return packets
