"""Recording (settings `record.*`; loaded only when they are there): a clip for each event of
the vision result's `record.trigger` key, with the seconds before it, and a time-lapse file
per day. Frames are the hub's finished JPEGs, taken `record.fps` times a second: recording
costs a copy and a write, never an encode.

The sampler copies each frame into a slot of a pool allocated at start: the last `pre_s` of
them are the pre-roll, and an event queues them, then the frames that follow, for the
writer. The writer's writes are paced (paced.py), so the loop is the viewers' for two
thirds of any stretch however slow the card; when it falls behind, the pool runs dry and
the sampler drops recorded frames (counted), never live ones. A full card loses its oldest clips, then pauses recording; a
failing or missing card ends the clip as far as it got; a clip cut off by a power cut is
finished at the next start (avi.finish): what was written is kept.
"""
import asyncio
import gc
import json
import os
import time

from . import avi, card
from .. import paced
from ..clock import wall_clock
from ..log import log, log_limited

RESERVE = 64 * 1024  # free heap left beside the pool, for viewers and vision.py
QUEUE = 3  # slots beyond the pre-roll, for frames waiting for the card
RETRY_MS = 2000  # a missing card, or a full one, is looked at again this often
ENOSPC = 28
INDEX_SLACK = 1024  # room kept beyond each frame: the clip's index must fit when it ends
PART = ".part"  # a file being written: finished at the next start if it is still there


class Slot:
    def __init__(self, size):
        self.buf = bytearray(size)
        self.size = 0

    def fill(self, jpeg):
        if len(jpeg) > len(self.buf):
            return False
        self.buf[:len(jpeg)] = jpeg
        self.size = len(jpeg)
        return True

    def jpeg(self):
        return memoryview(self.buf)[:self.size]


def utc(unix_s):
    """(year, month, day, hour, minute, second) of Unix seconds, in UTC: the days counted
    here (H. Hinnant's civil_from_days), as not every board has `gmtime`."""
    days, rest = divmod(unix_s, 86400)
    era, day_of_era = divmod(days + 719468, 146097)
    year_of_era = (day_of_era - day_of_era // 1460 + day_of_era // 36524
                   - day_of_era // 146096) // 365
    day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    month_index = (5 * day_of_year + 2) // 153  # from March
    day = day_of_year - (153 * month_index + 2) // 5 + 1
    month = month_index + 3 if month_index < 10 else month_index - 9
    year = year_of_era + era * 400 + (month <= 2)
    return year, month, day, rest // 3600, rest // 60 % 60, rest % 60


def clip_name(unix_s):
    t = utc(unix_s)
    return "%04d%02d%02d-%02d%02d%02d" % t[:6]


def valid_name(name):
    """A clip's name as the recorder makes them (a time, or lapse- and a day): nothing that
    can reach outside the clips' folder."""
    if name.startswith("lapse-"):
        name = name[6:]
    parts = name.split("-")
    return 1 <= len(parts) <= 3 and all(p and all("0" <= c <= "9" for c in p) for p in parts) \
        and len(parts[0]) == 8


class Recorder:
    def __init__(self, cfg, hub, vision, frame_bytes):
        self.hub = hub
        self.vision = vision
        self.dir = cfg["record.dir"].rstrip("/")
        if not self.dir.startswith("/") and card.slot():
            self.dir = card.MOUNT + "/" + self.dir  # relative: on the card where there is a slot
        self.on_card = self.dir.startswith(card.MOUNT + "/")
        self.trigger = cfg["record.trigger"]
        self.fps = cfg["record.fps"]
        self.post_ms = cfg["record.post_s"] * 1000
        self.max_ms = cfg["record.max_s"] * 1000
        self.lapse_ms = cfg["record.timelapse_s"] * 1000
        self.budget = cfg["record.max_mb"] * 1024 * 1024
        self.frame_bytes = frame_bytes
        self.keep_s = cfg["record.keep_days"] * 86400
        wanted = cfg["record.pre_s"] * self.fps
        gc.collect()
        room = max((gc.mem_free() - RESERVE) // frame_bytes, 0)
        self.pool = []
        try:
            while len(self.pool) < min(wanted + QUEUE, room):
                self.pool.append(Slot(frame_bytes))
        except MemoryError:
            pass
        self.pre = max(len(self.pool) - QUEUE, 0)
        if not self.pool:
            log("record: no room in the heap for a %d KB frame beside the %d KB kept free: "
                "nothing is recorded (a smaller camera.buffer_kb, or a board with more heap)"
                % (frame_bytes // 1024, RESERVE // 1024))
        elif self.pre < wanted:
            log("record: room for %d frames of pre-roll of the %d asked (%d s at %d fps): "
                "pre-roll shortened to %.1f s" % (self.pre, wanted, cfg["record.pre_s"],
                                                  self.fps, self.pre / self.fps))
        self.free = list(self.pool)
        self.ring = []  # the pre-roll: filled slots, oldest first
        self.queue = []  # for the writer: ("start", name, slot, result), ("frame", slot),
        # ("end",), ("lapse", slot)
        self.queued = asyncio.Event()
        self.state = "idle" if self.pool else "no room"  # recording, paused (card full),
        # no card
        self.clip = None  # while an event records: [name, began ticks, last event ticks,
        # manual end ticks or None]
        self.manual = None  # POST /record: seconds asked, until a clip takes them
        self.clips = 0
        self.written = 0
        self.dropped = 0
        self.errors = 0
        self.last_error = None
        self.used = 0

    def stats(self):
        try:
            free = round(self._free_bytes() / 1048576, 2)
        except OSError:
            free = None
        return {"state": self.state, "clips": self.clips, "mb_used": round(self.used / 1048576, 2),
                "mb_free": free, "frames_written": self.written,
                "frames_dropped": self.dropped, "errors": self.errors,
                "last_error": self.last_error, "pre_roll_s": self.pre / self.fps,
                "recording": self.clip[0] if self.clip else None}

    def record(self, seconds):
        """A clip of `seconds` from now, whatever the vision says."""
        self.manual = seconds

    # the sampler

    async def sample(self):
        period = 1000 // self.fps
        seen = 0
        due = lapse_due = time.ticks_ms()
        while True:  # on a schedule, so a late wake-up does not slow the recorded rate
            due = time.ticks_add(due, period)
            late = time.ticks_diff(time.ticks_ms(), due)
            if late > period:
                due = time.ticks_ms()  # fell behind: no burst of catch-up samples
            await asyncio.sleep_ms(max(-late, 0))
            frame = self.hub.frame
            if frame is None or frame.seq == seen:
                continue
            seen = frame.seq
            now = time.ticks_ms()
            self._follow_event(frame, now)
            if self.lapse_ms and time.ticks_diff(now, lapse_due) >= 0 and \
                    self.state in ("idle", "recording"):
                lapse_due = time.ticks_add(now, self.lapse_ms)
                slot = self._take(frame)
                if slot:
                    self._put(("lapse", slot))

    def _follow_event(self, frame, now):
        result = self.vision.result if self.vision else None
        on = isinstance(result, dict) and bool(result.get(self.trigger))
        clip = self.clip
        if clip is None:
            if self.manual is None and not on or self.state != "idle":
                self._keep(frame)
                return
            self._start(frame, now, result)
            return
        if on and clip[3] is None:
            clip[2] = now
        ends = time.ticks_diff(now, clip[3]) >= 0 if clip[3] is not None else \
            time.ticks_diff(now, clip[2]) >= self.post_ms
        if ends or time.ticks_diff(now, clip[1]) >= self.max_ms:
            self.clip = None
            self._put(("end",))
            self._keep(frame)
            return
        slot = self._take(frame)
        if slot:
            self._put(("frame", slot))

    def _start(self, frame, now, result):
        name = clip_name(wall_clock.ms() // 1000)
        seconds = self.manual
        self.manual = None
        self.clip = [name, now, now, time.ticks_add(now, seconds * 1000) if seconds else None]
        thumb = self._take(frame, True)
        self._put(("start", name, thumb, result if not seconds else {"manual": seconds}))
        if not seconds:  # an event's clip begins with the pre-roll
            for slot in self.ring:
                self._put(("frame", slot))
            self.ring = []
        if thumb:
            self._put(("frame", thumb))

    def _keep(self, frame):
        """Into the pre-roll (none: nothing)."""
        if not self.pre:
            return
        if len(self.ring) >= self.pre:
            self.free.append(self.ring.pop(0))
        slot = self._take(frame)
        if slot:
            self.ring.append(slot)

    def _take(self, frame, quiet=False):
        """A slot holding `frame`'s JPEG, or None (counted): the writer holds them all."""
        slot = self.free.pop() if self.free else None
        if slot is None or not slot.fill(frame.jpeg):
            if slot is not None:
                self.free.append(slot)
            self.dropped += 1
            if not quiet:
                log_limited("record-drop", "record: the card is behind: frame dropped (%d so far)"
                            % self.dropped)
            return None
        return slot

    def _put(self, item):
        self.queue.append(item)
        self.queued.set()

    # the writer

    async def write(self):
        """Write what the sampler queues, forever; faults are counted, and waited out."""
        try:
            self._tidy()
        except OSError as exc:
            await self._wait_out(exc)
        clip = lapse = None  # the Writers open: an event's clip, today's time-lapse
        while True:
            if not self.queue:
                self.queued.clear()
                await self.queued.wait()
            item = self.queue.pop(0)
            try:
                if item[0] == "start":
                    clip = await self._open(item[1], item[2], item[3])
                elif item[0] == "frame" and clip:
                    if not await self._add(clip, item[1]):  # no room left: the clip ends,
                        clip = await self._close(clip)  # and recording waits for room
                        self._let_go(item)
                        await self._wait_out(None)
                        continue
                elif item[0] == "end" and clip:
                    clip = await self._close(clip)
                elif item[0] == "lapse":
                    lapse = await self._lapse(lapse, item[1])
            except OSError as exc:  # the clip ends as far as it got (finished at the next
                clip = lapse = None  # look at the card)
                self._let_go(item)
                await self._wait_out(exc)
                continue
            self._release(item)

    def _let_go(self, item):
        """End the clip being recorded, and let go of `item` and what waits after it."""
        self.clip = None
        for waiting in [item] + self.queue:
            self._release(waiting)
        self.queue = []

    def _release(self, item):
        if item[0] in ("frame", "lapse") and item[1] not in self.free:
            self.free.append(item[1])

    def _path(self, name):
        return self.dir + "/" + name

    async def _open(self, name, thumb, result):
        """A new clip: room made for it, its thumbnail, its file."""
        need = 4 * self.fps * self.frame_bytes  # a few seconds of frames
        self._make_room(need)
        if thumb:
            with open(self._path(name + ".jpg"), "wb") as f:
                await paced.write(f, thumb.jpeg())
        self.state = "recording"
        log("record: clip %s started" % name)
        clip = avi.Writer(self._path(name + ".avi" + PART), paced.pause)
        clip.name, clip.result, clip.began = name, result, wall_clock.ms() // 1000
        return clip

    async def _add(self, writer, slot):
        """Write a frame; when the budget or the card is full, the oldest clips go first.
        False when no room can be made: the clip ends there."""
        size = slot.size + 8
        closing = 16 * (writer.frames + 1) + INDEX_SLACK  # room kept to finish the clip
        for attempt in (1, 2):
            try:
                if self.budget and self.used + size > self.budget or attempt == 2 or \
                        self._free_bytes() < size + closing:
                    self._make_room(size + closing, writer.name)
                await writer.add(slot.jpeg())
            except OSError as exc:
                if exc.args[0] != ENOSPC:
                    raise
                if attempt == 2:
                    self._failed(exc, "paused")
                    return False
                continue
            self.written += 1
            self.used += size
            return True

    async def _close(self, writer):
        frames, size = await writer.close(self.fps)
        final = self._path(writer.name + ".avi")
        self.state = "idle" if self.state == "recording" else self.state
        if not frames:  # every frame dropped: nothing to keep
            for path in (final + PART, self._path(writer.name + ".jpg")):
                if _exists(path):
                    os.remove(path)
            log("record: clip %s kept no frame" % writer.name)
            return None
        os.rename(final + PART, final)
        self._describe(writer.name, writer.began, frames, size, writer.result)
        self.clips += 1
        log("record: clip %s, %d frames (%.1f s)" % (writer.name, frames, frames / self.fps))
        self.used = self._usage()
        return None

    def _describe(self, name, began, frames, size, result):
        with open(self._path(name + ".json"), "w") as f:
            json.dump({"name": name, "start": began, "seconds": frames / self.fps,
                       "frames": frames, "bytes": size, "fps": self.fps, "result": result}, f)

    async def _lapse(self, writer, slot):
        """Today's time-lapse file, with `slot`'s frame added: a new day finishes the last."""
        day = "lapse-" + clip_name(wall_clock.ms() // 1000)[:8]
        if writer and writer.name != day:
            await self._close(writer)
            writer = None
        if writer is None:
            path = self._path(day + ".avi")
            append = _exists(path)
            if append:
                os.rename(path, path + PART)  # finished earlier today: go on from its end
            writer = avi.Writer(path + PART, paced.pause, append)
            writer.name, writer.result, writer.began = day, {"timelapse_s": self.lapse_ms
                                                             // 1000}, wall_clock.ms() // 1000
        await writer.add(slot.jpeg())
        self.written += 1
        return writer

    def _make_room(self, need, keep=None):
        """Delete the oldest clips (not `keep`) until the budget and the card have room for
        `need` more bytes; OSError(ENOSPC) if they cannot."""
        while (self.budget and self.used + need > self.budget) or self._free_bytes() < need:
            oldest = [n for n in self._names() if n != keep]
            if not oldest:
                raise OSError(ENOSPC)
            self._delete(oldest[0])
            log("record: clip %s deleted for room" % oldest[0])

    def delete(self, name):
        """Delete a clip: False when there is none of that name."""
        if name not in self._names():
            return False
        self._delete(name)
        return True

    def _delete(self, name):
        for suffix in (".avi", ".jpg", ".json"):
            try:
                os.remove(self._path(name + suffix))
            except OSError:
                pass
        self.used = self._usage()

    def _free_bytes(self):
        stat = os.statvfs(self.dir)  # OSError when the card is gone
        return stat[1] * stat[4]

    def _names(self):
        """The finished clips' names, oldest first."""
        try:
            files = os.listdir(self.dir)
        except OSError:
            return []
        names = [f[:-4] for f in files if f.endswith(".avi")]
        return sorted(names, key=lambda n: n[6:] if n.startswith("lapse-") else n)

    def _usage(self):
        total = 0
        try:
            for name in os.listdir(self.dir):
                total += os.stat(self._path(name))[6]
        except OSError:
            pass
        return total

    def listing(self):
        """The clips as /clips.json gives them, newest first."""
        out = []
        for name in reversed(self._names()):
            try:
                with open(self._path(name + ".json")) as f:
                    about = json.load(f)
            except (OSError, ValueError):
                about = {"name": name}
            about["thumbnail"] = "/clips/%s.jpg" % name if _exists(self._path(name + ".jpg")) \
                else None
            out.append(about)
        return out

    def _tidy(self):
        """At start, and when the card comes back: finish what a power cut or a lost card cut
        off, drop clips older than keep_days, count what is there."""
        try:
            os.mkdir(self.dir)
        except OSError:
            pass
        files = os.listdir(self.dir)
        for part in [f for f in files if f.endswith(".avi" + PART)]:
            name = part[:-len(".avi" + PART)]
            path = self._path(part)
            frames, size = _run(avi.finish(path, self.fps, paced.no_pause))
            if frames:
                os.rename(path, path[:-len(PART)])
                if not _exists(self._path(name + ".json")):
                    self._describe(name, None, frames, size, None)
                log("record: clip %s finished after a cut: %d frames kept" % (name, frames))
            else:
                os.remove(path)
                log("record: clip %s held no whole frame: removed" % name)
        if self.keep_s:
            oldest = clip_name(wall_clock.ms() // 1000 - self.keep_s)
            for name in self._names():
                key = name[6:] if name.startswith("lapse-") else name
                if key < oldest[:len(key)]:
                    self._delete(name)
        self.used = self._usage()

    def _failed(self, exc, state):
        self.errors += 1
        self.last_error = repr(exc)
        self.state = state
        log("record: %s (%r)" % ("paused: the card is full" if state == "paused" else
                                 "the card failed: clip ended", exc))

    async def _wait_out(self, exc):
        """After a fault: wait until the card is there, with room, then tidy and go on."""
        if self.state != "paused":
            self._failed(exc, "paused" if exc.args[0] == ENOSPC else "no card")
        while True:
            await asyncio.sleep_ms(RETRY_MS)
            try:
                if self.on_card and self.state == "no card" and card.mount(again=True):
                    log("record: a card is in: mounted at %s" % card.MOUNT)
                self._tidy()
                self._make_room(4 * self.fps * self.frame_bytes)
            except OSError:
                continue
            log("record: the card is back, with room")
            self.state = "idle"
            return


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def _run(coroutine):
    """Run a coroutine that never waits, to its end (at start: nothing else runs yet)."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    raise RuntimeError("it waited")


def start(cfg, hub, vision):
    """Record as `cfg` says, in tasks of their own: the function giving /status.json's
    `record` section, and the recorder (for its routes)."""
    recorder = Recorder(cfg, hub, vision, cfg["camera.buffer_kb"] * 1024)
    if not recorder.pool:
        return recorder  # no room: nothing is recorded
    if recorder.on_card:
        try:
            card.mount()
        except OSError as exc:
            log("record: the card does not mount (%r): is it FAT-formatted?" % (exc,))
    asyncio.create_task(recorder.sample())
    asyncio.create_task(recorder.write())
    return recorder
