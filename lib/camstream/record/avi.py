"""MJPEG in AVI: the clip files that VLC, ffmpeg, mpv and browsers' players read.

A file is written as a header of fixed size (zeros until the end), then each JPEG as a `00dc`
chunk of the `movi` list, then at the end the `idx1` index and the header filled in. The
index is rebuilt from the chunks themselves, so a file cut short by a power cut or a lost
card is finished the same way at the next start (`finish`): its whole frames kept, a frame
cut off dropped. Writes are paced (paced.py), so a slow card never holds up a viewer.
"""
import struct
import time

from .. import paced

HEADER = 224  # RIFF, hdrl (avih, strl: strh, strf), the movi list's head
MOVI = HEADER - 4  # where "movi" sits: index offsets count from it
FRAME = b"00dc"


def _chunk(kind, data):
    return kind + struct.pack("<I", len(data)) + data


def _list(kind, data):
    return b"LIST" + struct.pack("<I", len(data) + 4) + kind + data


def _header(frames, fps, width, height, movi_bytes, riff_bytes, largest):
    avih = struct.pack("<14I", 1000000 // fps, largest * fps, 0, 0x10, frames, 0, 1, largest,
                       width, height, 0, 0, 0, 0)
    strh = b"vidsMJPG" + struct.pack("<IHHIIIIIIIIhhhh", 0, 0, 0, 0, 1, fps, 0, frames,
                                     largest, 0xFFFFFFFF, 0, 0, 0, width, height)
    strf = struct.pack("<IiiHH4sIiiII", 40, width, height, 1, 24, b"MJPG", width * height * 3,
                       0, 0, 0, 0)
    strl = _list(b"strl", _chunk(b"strh", strh) + _chunk(b"strf", strf))
    return b"RIFF" + struct.pack("<I", riff_bytes) + b"AVI " + \
        _list(b"hdrl", _chunk(b"avih", avih) + strl) + b"LIST" + struct.pack("<I", movi_bytes) + \
        b"movi"


def jpeg_size(jpeg):
    """(width, height) from a JPEG's start-of-frame segment, or (0, 0)."""
    i = 2
    while i + 9 < len(jpeg):
        if jpeg[i] != 0xFF:
            return 0, 0
        marker = jpeg[i + 1]
        length = jpeg[i + 2] << 8 | jpeg[i + 3]
        if 0xC0 <= marker <= 0xC3:
            return jpeg[i + 7] << 8 | jpeg[i + 8], jpeg[i + 5] << 8 | jpeg[i + 6]
        i += 2 + length
    return 0, 0


class Writer:
    """One AVI file being written; with `append`, a finished or cut-off one written on from
    its last whole frame."""

    def __init__(self, path, pause, append=False):
        self.path = path
        self.pause = pause
        self.frames = 0
        self.bytes = HEADER
        if append:
            self.f = open(path, "r+b")
            for at, size in frames(self.f):
                self.frames += 1
                self.bytes = at + size + (size & 1)
            self.f.seek(self.bytes)
        else:
            self.f = open(path, "wb")
            self.f.write(bytes(HEADER))

    async def add(self, jpeg):
        size = len(jpeg)
        try:
            await paced.write(self.f, struct.pack("<4sI", FRAME, size), self.pause)
            await paced.write(self.f, jpeg, self.pause)
            if size & 1:
                self.f.write(b"\x00")
        except OSError:
            self.f.seek(self.bytes)  # a frame cut off: the next one is written over it
            raise
        self.frames += 1
        self.bytes += 8 + size + (size & 1)

    async def close(self, fps):
        """Finish the file: (frames, bytes)."""
        self.f.close()
        return await finish(self.path, fps, self.pause)


async def finish(path, fps, pause):
    """Index the whole frames of a written (or cut-off) file and fill in its header:
    (frames, bytes), or (0, 0) when it holds no whole frame."""
    with open(path, "r+b") as f:
        chunks = []  # (offset from "movi", size)
        width = height = largest = 0
        for at, size in frames(f):
            if not chunks:
                width, height = jpeg_size(f.read(size))
            chunks.append((at - 8 - MOVI, size))
            largest = max(largest, size)
        if not chunks:
            return 0, 0
        end = chunks[-1][0] + MOVI + 8 + chunks[-1][1]
        end += end & 1
        f.seek(end)
        f.write(b"idx1" + struct.pack("<I", 16 * len(chunks)))
        per_slice = paced.SLICE // 16
        for first in range(0, len(chunks), per_slice):
            entries = bytearray()
            for offset, size in chunks[first:first + per_slice]:
                entries += struct.pack("<4sIII", FRAME, 0x10, offset, size)
            began = time.ticks_ms()
            f.write(entries)
            await pause(time.ticks_diff(time.ticks_ms(), began))
        total = f.tell()
        f.seek(0)
        f.write(_header(len(chunks), fps, width, height, end - MOVI, total - 8, largest))
    return len(chunks), total


def frames(f):
    """(offset, size) of each whole frame of open file `f`, in order; the file is left at
    each frame's first byte."""
    f.seek(0, 2)
    end = f.tell()
    at = HEADER
    while at + 8 <= end:
        f.seek(at)
        kind, size = struct.unpack("<4sI", f.read(8))
        if kind != FRAME or at + 8 + size > end:
            return  # a frame cut off, or the index of a finished file
        yield at + 8, size
        at += 8 + size + (size & 1)
