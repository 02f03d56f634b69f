"""Runtime controls: the camera's settings read and changed over HTTP (`/control`),
between frames.

All or nothing: every value is checked before any is applied. Values can be saved to
settings.json, so they survive a reboot. Loaded on the first request for them.
"""
import asyncio
import json

from . import forget
from .checks import one_of, whole
from .options import FRAMESIZES, LEVELS, PICTURE, RANGES, picture_check

APPLY_TIMEOUT_MS = 5000  # the capture loop applies changes between frames; a stalled sensor may not


class ControlError(Exception):
    """A request refused: its HTTP status, and a message naming the control and what is
    allowed."""

    def __init__(self, message, status=400):
        super().__init__(message)
        self.status = status


class Controls:
    def __init__(self, camera, hub):
        self.camera = camera
        self.hub = hub
        self.pending = {}  # changes checked, waiting for the gap between two frames
        self.applied = asyncio.Event()
        self.failed = None  # what the sensor refused of the last changes applied
        self.on_change = None  # called after each set(), to show what was applied
        sensor = camera.sensor_module()
        self.framesizes = sorted((name for name in FRAMESIZES
                                  if sensor is None or hasattr(sensor, name)), key=FRAMESIZES.get)
        self.checks = {"framesize": one_of(self.framesizes)}  # the controls this sensor has
        for name, (lo, hi) in RANGES.items():
            self.checks[name] = whole(lo, hi)
        for name in PICTURE:
            if camera.control(name):
                self.checks[name] = picture_check(name)

    async def post(self, content_type, body):
        """Change the controls as a POST's JSON `body` asks: see set()."""
        kind = (content_type or "").split(";")[0].strip().lower()
        if kind != "application/json":  # a form on another site cannot reach here
            return 415, "Send application/json"
        try:
            changes = json.loads(body or b"")
        except ValueError:
            return 400, "the body is not valid JSON"
        return await self.set(changes)

    async def set(self, changes):
        """Change the controls as `changes` asks ({control: value}, and "save": true to save
        them): (200, each control as describe() gives it), or (status, what was wrong)."""
        try:
            return 200, await self._set(changes)
        except ControlError as exc:
            return exc.status, str(exc)
        finally:
            if self.on_change:  # what was applied, even of a refusal: none, or some
                self.on_change()

    async def _set(self, changes):
        changes, save = self.check(changes)
        refused = await self.change(changes)
        if refused:
            raise ControlError("the sensor refused %s" % refused, 500)
        if save:
            from . import settings
            try:
                settings.save(self.saved_values())
            except Exception as exc:  # a full or read-only flash: the old file stays whole
                raise ControlError("applied, but not saved (settings.json unchanged): %r"
                                   % (exc,), 500)
            finally:
                forget("settings")  # its room in the heap, free again
        answer = self.describe()
        answer["saved"] = save
        return answer

    def describe(self):
        """Each control the sensor has: its value, and its range or choices."""
        camera = self.camera
        out = {"framesize": {"value": camera.framesize, "choices": self.framesizes}}
        for name, (lo, hi) in RANGES.items():
            out[name] = {"value": getattr(camera, name), "min": lo, "max": hi}
        for name, default in PICTURE.items():
            if camera.control(name):
                value = camera.picture.get(name, default)
                out[name] = {"value": value} if isinstance(default, bool) else \
                    {"value": value, "min": LEVELS[0], "max": LEVELS[1]}
        return out

    def check(self, changes):
        """`changes` without "save", every value allowed; else ControlError."""
        if not isinstance(changes, dict):
            raise ControlError("the body must be a JSON object of controls")
        changes = dict(changes)
        save = changes.pop("save", False)
        if not isinstance(save, bool):
            raise ControlError("save must be true or false")
        for name, value in changes.items():
            problem = self._problem(name, value)
            if problem:
                raise ControlError("%s: %s" % (name, problem))
        return changes, save

    def _problem(self, name, value):
        check = self.checks.get(name)
        if check:
            return check(value)
        if name in PICTURE:
            return "not supported by this sensor"
        known = ["framesize"] + list(RANGES) + list(PICTURE)
        return "no such control (known: %s)" % ", ".join(known)

    async def change(self, changes):
        """Apply checked `changes` between two frames; what the sensor refused, or None."""
        # the capture loop sets `applied` once it has applied these too, and the waiter
        # clears it: a pulse (set, then clear) could come before the wait starts, and be lost
        self.applied.clear()
        self.pending.update(changes)  # two requests before a frame: both apply
        self.camera.pending = self._apply
        self.hub.want()
        try:
            await asyncio.wait_for_ms(self.applied.wait(), APPLY_TIMEOUT_MS)
        except asyncio.TimeoutError:
            raise ControlError("the camera did not take the change within %d s (sensor stalled?);"
                               " it will when the sensor answers" % (APPLY_TIMEOUT_MS // 1000))
        return self.failed

    def _apply(self):
        """Run by the capture loop between two frames."""
        camera = self.camera
        changes, self.pending = self.pending, {}
        self.failed = None
        for name, value in changes.items():
            try:
                if name == "framesize":
                    camera.set_framesize(value)
                elif name in RANGES:
                    setattr(camera, name, value)
                else:
                    camera.control(name)(value)
                    camera.picture[name] = value
            except Exception as exc:  # the sensor refused: say so, keep the rest
                self.failed = "%s: %s" % (name, exc)
        self.applied.set()

    def saved_values(self):
        """The controls as settings.json names them."""
        camera = self.camera
        values = {"camera.framesize": camera.framesize, "camera.quality": camera.quality,
                  "camera.fps_cap": camera.fps_cap}
        for name, default in PICTURE.items():
            values["camera." + name] = camera.picture.get(name, default)
        return values
