"""The camera on MQTT, as a Home Assistant device: loaded only when settings name a broker
(mqtt.host).

Its topics sit under mqtt.topic (default openmv/<name>): `availability` (`online`, or
`offline` by the broker's last will), `diagnostics` (frames a second, viewers, uptime, free
heap, Wi-Fi signal: at each connect and every DIAGNOSTICS_S), `image` (the latest frame as
a JPEG: at each connect, every mqtt.image_s and when a vision event starts) and, with a
vision stage, `vision` (the latest result, looked at every VISION_MIN_MS: sent when it has
changed, and at least every VISION_S). Home Assistant's MQTT discovery (prefix
mqtt.discovery, empty for none) finds them as one device: retained configs, sent again at
each connect and whenever Home Assistant says it is back (`online` on `<prefix>/status`).
The vision entities follow the keys of the first result (at most MAX_VISION), or the names
vision.py gives in ENTITIES: a `binary_sensor` for each true or false value (`motion` is a
motion sensor), a `sensor` for each number, and one `sensor` with the whole result as its
attributes. The runtime controls are entities too (control_entities.py).
"""
import asyncio
import gc
import json
import sys
import time

from .control_entities import ControlEntities
from ..log import log_limited
from .client import MqttClient

DIAGNOSTICS_S = 30
VISION_S = 60
VISION_MIN_MS = 200  # the result is looked at this often: sent 5 times a second at most
MAX_VISION = 8
DIAGNOSTICS = (  # key, name, unit, device class
    ("fps", "Frames per second", "fps", None),
    ("viewers", "Viewers", None, None),
    ("uptime_s", "Uptime", "s", "duration"),
    ("heap_free", "Free heap", "B", "data_size"),
    ("rssi", "Wi-Fi signal", "dBm", "signal_strength"),
)


def start(cfg, hub, viewers, vision, controls, build, address, link=None):
    """Connect to the settings' broker and keep the device's topics up to date, in tasks of
    their own; returns the function giving /status.json's `mqtt` section. `controls()`
    gives the camera's runtime controls; `link` writes on lwIP (link.Link)."""
    client = MqttClient(cfg["mqtt.host"], cfg["mqtt.port"], cfg["name"], cfg["mqtt.user"],
                        cfg["mqtt.password"], topic(cfg) + "/availability",
                        cfg["mqtt.keepalive_s"], link)
    device = Device(cfg, client, hub, viewers, vision, controls(), build, address)
    asyncio.create_task(client.run())
    asyncio.create_task(device.run())

    def stats():
        answer = client.stats()
        answer.update(device.controls.stats())
        return answer
    return stats


def topic(cfg):
    return cfg["mqtt.topic"] or "openmv/" + cfg["name"]


class Device:
    """What the camera tells Home Assistant, and when."""

    def __init__(self, cfg, client, hub, viewers, vision, controls, build, address):
        self.client = client
        self.hub = hub
        self.viewers = viewers
        self.vision = vision
        self.base = topic(cfg)
        self.prefix = cfg["mqtt.discovery"]
        self.node = cfg["name"]
        self.device = {"identifiers": [cfg["name"]], "name": cfg["name"],
                       "model": sys.implementation._machine, "manufacturer": "OpenMV",
                       "sw_version": build,
                       "configuration_url": "http://%s:%d/" % (address(), cfg["port"])}
        self.image_s = cfg["mqtt.image_s"]
        self.started = time.ticks_ms()
        self.counted = (hub.captures, self.started)  # for the frame rate
        self.vision_keys = self._declared_keys()
        self.sent_result = None
        self.controls = ControlEntities(controls, client, self.base)
        self.round = 0  # announcements made: the latest one sends the configs
        client.on_connect = self.announce
        client.on_message = self.heard
        if self.prefix:
            client.subscribe(self.prefix + "/status")

    def _declared_keys(self):
        """The result's keys vision.py names in ENTITIES, or None: the first result's."""
        if self.vision is None:
            return None
        keys = getattr(self.vision, "entities", None)
        return [key for key in keys if _plain(key)][:MAX_VISION] if keys else None

    def heard(self, name, payload):
        if self.controls.heard(name, payload):
            return
        if self.prefix and name == self.prefix + "/status" and payload == b"online":
            self.announce()  # Home Assistant restarted: it knows nothing of us

    def announce(self):
        """The current states, then the discovery configs (when discovery is on), one at a
        time: each is sent before the next is made, so they never wait in the heap together.
        A new announcement (a reconnect) ends the one under way."""
        self.controls.publish()
        self.publish_diagnostics()
        self.publish_picture()
        if self.vision is not None and self.vision.result_json is not None:
            self.publish_vision()
        if self.prefix:
            self.round += 1
            asyncio.create_task(self._send_configs(self.round))

    async def _send_configs(self, round_):
        for component, key, name, fields in self._configs():
            config = {"name": name, "unique_id": "%s_%s" % (self.node, key),
                      "availability_topic": self.base + "/availability", "device": self.device}
            for field, value in fields.items():
                if value is not None:
                    config[field] = value
            self.client.publish("%s/%s/%s/%s/config" % (self.prefix, component, self.node, key),
                                json.dumps(config), True)
            config = None
            await self.client.sent()
            if round_ != self.round:
                return

    def _configs(self):
        """Each discovery config: (platform, key, name, its fields)."""
        for key, name, unit, kind in DIAGNOSTICS:
            yield "sensor", key, name, {
                "state_topic": self.base + "/diagnostics",
                "value_template": "{{ value_json.%s }}" % key, "entity_category": "diagnostic",
                "unit_of_measurement": unit, "device_class": kind, "state_class": "measurement"}
        yield "camera", "camera", "Camera", {"topic": self.base + "/image"}
        if self.vision is not None and self.vision_keys is not None:
            yield from self._vision_configs()
        yield from self.controls.configs()

    def _vision_configs(self):
        state = self.base + "/vision"
        yield "sensor", "vision", "Vision", {
            "state_topic": state, "value_template": "{{ value_json.seq }}",
            "json_attributes_topic": state,
            "json_attributes_template": "{{ value_json.result | tojson }}"}
        result = self.vision.result or {}
        for key in self.vision_keys:
            value = result.get(key) if isinstance(result, dict) else None
            name = key[:1].upper() + key[1:].replace("_", " ")
            if isinstance(value, bool):
                yield "binary_sensor", "vision_" + key, name, {
                    "state_topic": state, "device_class": "motion" if key == "motion" else None,
                    "value_template": "{{ 'ON' if value_json.result.%s else 'OFF' }}" % key}
            elif isinstance(value, (int, float)):
                yield "sensor", "vision_" + key, name, {
                    "state_topic": state, "value_template": "{{ value_json.result.%s }}" % key}

    def publish_diagnostics(self):
        now = time.ticks_ms()
        captures, then = self.counted
        self.counted = (self.hub.captures, now)
        seconds = time.ticks_diff(now, then) / 1000
        self.client.publish(self.base + "/diagnostics", json.dumps({
            "fps": round((self.hub.captures - captures) / seconds, 1) if seconds else 0,
            "viewers": self.viewers.streams,
            "uptime_s": time.ticks_diff(now, self.started) // 1000,
            "heap_free": gc.mem_free(),
            "rssi": _rssi()}), True)

    def publish_picture(self):
        """The latest frame, overlays included, as the camera entity's picture: written
        straight from its buffer, which is held only while it is written."""
        self.client.publish(self.base + "/image", self._take_frame, True)

    def _take_frame(self):
        frame = self.hub.frame
        if frame is None:
            return None, None
        frame.acquire()
        return frame.jpeg, frame.release

    def publish_vision(self):
        self.sent_result = self.vision.result_json
        self.client.publish(self.base + "/vision", self.vision.latest, True)

    async def run(self):
        """Diagnostics every DIAGNOSTICS_S, a picture every image_s; the vision result when
        it has changed, and a picture when one of its true/false values has turned true (an
        event starts: motion)."""
        asyncio.create_task(self._every(DIAGNOSTICS_S, self.publish_diagnostics))
        if self.image_s:
            asyncio.create_task(self._every(self.image_s, self.publish_picture))
        vision = self.vision
        if vision is None:
            return
        sent_at = time.ticks_ms()
        was_on = []
        while True:  # a look every VISION_MIN_MS, not a wake-up every frame
            await asyncio.sleep_ms(VISION_MIN_MS)
            try:
                if self.vision_keys is None and isinstance(vision.result, dict):
                    self.vision_keys = [key for key in vision.result if _plain(key)][:MAX_VISION]
                    self.announce()  # with the vision entities, now they are known
                if vision.result_json != self.sent_result or \
                        time.ticks_diff(time.ticks_ms(), sent_at) >= VISION_S * 1000:
                    self.publish_vision()
                    sent_at = time.ticks_ms()
                    on = _true_keys(vision.result)
                    if any(key not in was_on for key in on):
                        self.publish_picture()
                    was_on = on
            except Exception as exc:  # MemoryError: the next look tries again
                log_limited("ha", "mqtt: vision result not published: %r" % (exc,))

    async def _every(self, seconds, publish):
        while True:
            await asyncio.sleep(seconds)
            publish()


def _true_keys(result):
    """The keys of a result whose values are true (not numbers: True itself)."""
    if not isinstance(result, dict):
        return ()
    return [key for key, value in result.items() if value is True]


def _plain(key):
    """A key Home Assistant can name an entity by, and a template can reach."""
    return isinstance(key, str) and key and all(c.isalpha() or c.isdigit() or c == "_"
                                                for c in key)


def _rssi():
    """The station's signal in dBm, or None off a station link."""
    try:
        import network
        return network.WLAN(network.STA_IF).status("rssi")
    except (ImportError, AttributeError, OSError, ValueError, TypeError):
        return None
