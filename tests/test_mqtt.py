"""MQTT against a real broker (Debian's mosquitto): availability, the last will, a refused
login, a broker that never answers; the stream never waits for any of them."""
import getpass
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time

import paho.mqtt.client as paho
import pytest
from PIL import Image

from firmware import ROOT, free_port, wait_for
from test_robustness import Streaming, resting_heap

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"  # sbin: not always on PATH


class Broker:
    """mosquitto on a free port of `host` (loopback), anonymous or with one user."""

    def __init__(self, where, user=None, password=None, host="127.0.0.1"):
        self.port = free_port()
        # run as this user: as root, mosquitto would switch to its own, which cannot read here
        conf = ["listener %d %s" % (self.port, host), "persistence false",
                "user " + getpass.getuser()]
        if user:
            users = os.path.join(where, "users")
            open(users, "w").close()
            subprocess.run(["mosquitto_passwd", "-b", users, user, password], check=True)
            conf += ["allow_anonymous false", "password_file " + users]
        else:
            conf.append("allow_anonymous true")
        self.conf = os.path.join(where, "mosquitto.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join(conf) + "\n")
        self.start()

    def start(self):
        self.proc = subprocess.Popen([MOSQUITTO, "-c", self.conf], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        assert wait_for(self._listening, 10), "mosquitto did not start"

    def _listening(self):
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


class Listener:
    """A CPython MQTT client: every message received on `topic`, with its arrival time."""

    def __init__(self, port, topic="#", user=None, password=None):
        self.messages = []
        self.lock = threading.Lock()
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2)
        if user:
            self.client.username_pw_set(user, password)
        self.client.on_message = self._received
        self.client.on_connect = lambda client, *_: client.subscribe(topic)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _received(self, client, userdata, message):
        with self.lock:
            self.messages.append((time.time(), message.topic, message.payload, message.retain))

    def payloads(self, topic):
        with self.lock:
            return [payload for _, name, payload, _ in self.messages if name == topic]

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def broker(tmp_path):
    brokers = []

    def _broker(**kwargs):
        where = tmp_path / ("broker%d" % len(brokers))
        where.mkdir()
        brokers.append(Broker(str(where), **kwargs))
        return brokers[-1]

    yield _broker
    for b in brokers:
        b.stop()


def mqtt_settings(port, **more):
    return {"name": "door-cam", "mqtt": dict({"host": "127.0.0.1", "port": port}, **more)}


def test_online_then_offline_by_the_last_will_when_the_camera_dies(start, broker):
    b = broker()
    fw = start(settings=mqtt_settings(b.port, keepalive_s=2))
    listener = Listener(b.port, "openmv/door-cam/#")
    topic = "openmv/door-cam/availability"
    assert wait_for(lambda: listener.payloads(topic) == [b"online"], 10), listener.messages
    late = Listener(b.port, topic)  # subscribing later, it gets the retained message
    assert wait_for(lambda: late.messages, 10) and late.messages[0][2:] == (b"online", True)
    late.close()
    status = fw.status()["mqtt"]
    assert status["state"] == "online" and status["connects"] == 1 and status["errors"] == 0
    assert fw.console().count("mqtt: online 127.0.0.1:%d" % b.port) == 1
    killed = time.time()
    os.kill(fw.proc.pid, signal.SIGKILL)  # no DISCONNECT: only the broker's will can tell
    assert wait_for(lambda: listener.payloads(topic)[-1:] == [b"offline"], 10)
    said = [t for t, name, payload, _ in listener.messages if payload == b"offline"][0]
    assert said - killed <= 1.5 * 2 + 0.5, said - killed  # 1.5 keep-alives, and the broker's tick
    listener.close()


def test_a_wrong_password_is_refused_counted_and_retried_while_the_camera_streams(start, broker):
    b = broker(user="camera", password="right-one")
    fw = start(settings=mqtt_settings(b.port, user="camera", password="wrong-one"))
    viewers = Streaming(fw.port, 2)
    assert wait_for(lambda: fw.status()["mqtt"]["errors"] >= 3, 15), fw.status()["mqtt"]
    seconds, counts = viewers.finish()
    status = fw.status()["mqtt"]
    assert status["state"] == "refused" and status["connects"] == 0, status
    assert "not authorised" in status["last_error"]  # mosquitto's answer to a bad password
    assert fw.console().count("mqtt: refused") == 1, fw.console()  # one line per change
    assert "wrong-one" not in fw.console()
    assert min(counts) >= 0.9 * 30 * seconds, (counts, seconds)
    right = start(settings=mqtt_settings(b.port, user="camera", password="right-one"))
    assert wait_for(lambda: right.status()["mqtt"]["state"] == "online", 10)


def test_a_broker_that_never_answers_never_holds_up_the_stream(start):
    silent = socket.socket()  # accepts connections and never says a word
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    fw = start(settings=mqtt_settings(silent.getsockname()[1]))
    viewers = Streaming(fw.port, 2)
    time.sleep(8)  # past the 5 s the client allows for an answer
    seconds, counts = viewers.finish()
    status = fw.status()["mqtt"]
    assert status["state"] == "offline" and status["errors"] >= 1, status
    assert min(counts) >= 0.9 * 30 * seconds, (counts, seconds)
    silent.close()


def test_without_a_broker_no_mqtt_code_is_loaded(start):
    fw = start()
    assert fw.status().get("mqtt") is None and "mqtt" not in fw.console()


REQUIRED = {"sensor": ("state_topic",), "binary_sensor": ("state_topic",), "camera": ("topic",),
            "select": ("command_topic", "options"), "number": ("command_topic",),
            "switch": ("command_topic",), "button": ("command_topic",)}
CONTROLS = 13  # framesize, quality, fps_cap, 8 picture controls, save, restart
DEVICE = 6 + CONTROLS  # with the 5 diagnostics and the camera


def configs(listener, prefix="homeassistant"):
    """The latest discovery config per topic: {topic: parsed JSON}."""
    found = {}
    with listener.lock:
        for _, name, payload, _ in listener.messages:
            if name.startswith(prefix + "/") and name.endswith("/config"):
                found[name] = json.loads(payload)
    return found


def test_home_assistant_finds_one_device_with_its_diagnostics_and_vision(start, broker):
    b = broker()
    listener = Listener(b.port)
    with open(os.path.join(ROOT, "examples", "motion.py")) as f:
        fw = start(settings=mqtt_settings(b.port), vision=f.read())
    assert wait_for(lambda: len(configs(listener)) >= DEVICE + 3, 15), sorted(configs(listener))
    found = configs(listener)
    ids = [config["unique_id"] for config in found.values()]
    assert len(ids) == len(set(ids)), ids
    for name, config in found.items():
        platform = name.split("/")[1]
        for key in REQUIRED[platform] + ("name", "unique_id", "availability_topic", "device"):
            assert key in config, (name, key)
        assert config["availability_topic"] == "openmv/door-cam/availability"
        assert config["device"]["identifiers"] == ["door-cam"]
        assert config["device"]["sw_version"] == fw.status()["build"]
        assert config["device"]["configuration_url"].endswith(":%d/" % fw.port)
    motion = found["homeassistant/binary_sensor/door-cam/vision_motion/config"]
    assert motion["device_class"] == "motion" and motion["state_topic"] == "openmv/door-cam/vision"
    assert "homeassistant/sensor/door-cam/vision_level/config" in found
    diagnostics = [c for c in found.values() if c.get("entity_category") == "diagnostic"]
    assert len(diagnostics) == 5
    state = json.loads(listener.payloads("openmv/door-cam/diagnostics")[-1])
    assert state["fps"] >= 0 and state["uptime_s"] >= 0 and state["heap_free"] > 0
    camera = found["homeassistant/camera/door-cam/camera/config"]
    assert camera["topic"] == "openmv/door-cam/image"
    assert wait_for(lambda: listener.payloads(camera["topic"]), 10)
    picture = Image.open(io.BytesIO(listener.payloads(camera["topic"])[-1]))
    picture.load()  # decodes whole
    assert picture.size == (320, 240)
    listener.close()


def vision_states(listener):
    return [json.loads(p)["result"] for p in listener.payloads("openmv/door-cam/vision")]


def test_a_picture_when_motion_starts_with_its_overlay(start, broker):
    b = broker()
    listener = Listener(b.port, "openmv/door-cam/image")
    with open(os.path.join(ROOT, "examples", "motion.py")) as f:
        start(settings=mqtt_settings(b.port, image_s=0), vision=f.read())  # on events only
    pictures = lambda: listener.payloads("openmv/door-cam/image")  # noqa: E731
    # the frame that started the event, with what motion.py drew on it
    assert wait_for(lambda: any(b"draw=string 4 28 motion" in p[:200] for p in pictures()), 15)
    time.sleep(2)
    assert len(pictures()) < 10, len(pictures())  # at connect and per event: not ~90 frames
    listener.close()


def test_motion_goes_on_with_the_moving_ball_and_off_when_the_scene_is_still(start, broker):
    b = broker()
    with open(os.path.join(ROOT, "examples", "motion.py")) as f:
        source = f.read()
    moving = Listener(b.port, "openmv/door-cam/vision")
    start(settings=mqtt_settings(b.port), vision=source)
    assert wait_for(lambda: any(s["motion"] for s in vision_states(moving)), 15)
    moving.close()
    b2 = broker()
    still = Listener(b2.port, "openmv/door-cam/vision")
    start(settings=mqtt_settings(b2.port), vision=source, env={"SIM_STILL": "1"})
    assert wait_for(lambda: vision_states(still), 15)
    time.sleep(1)
    assert not any(s["motion"] for s in vision_states(still)), vision_states(still)
    still.close()


def test_configs_are_sent_again_when_home_assistant_comes_back(start, broker):
    b = broker()
    listener = Listener(b.port)
    start(settings=mqtt_settings(b.port))
    assert wait_for(lambda: len(configs(listener)) == DEVICE, 15)
    before = sum(1 for _, name, _, _ in listener.messages if name.endswith("/config"))
    listener.client.publish("homeassistant/status", "online")
    assert wait_for(lambda: sum(1 for _, name, _, _ in listener.messages
                                if name.endswith("/config")) >= before + DEVICE, 10)
    listener.close()


def test_the_broker_away_for_20_s_costs_the_viewers_nothing(start, broker):
    b = broker()
    fw = start(settings=mqtt_settings(b.port))
    assert wait_for(lambda: fw.status()["mqtt"]["state"] == "online", 10)
    warm_up = Streaming(fw.port, 2)  # the first viewers' one-time allocations are no growth,
    time.sleep(1)  # nor are those of the first reconnect (1.6 KB, then never more)
    warm_up.finish()
    b.stop()
    time.sleep(12)
    b.start()
    assert wait_for(lambda: fw.status()["mqtt"]["connects"] == 2, 15)
    assert wait_for(lambda: fw.status()["viewers"] == 0)
    time.sleep(2)  # the configs, one at a time
    heap = resting_heap(fw)
    viewers = Streaming(fw.port, 2)
    b.stop()
    time.sleep(20)
    seconds, counts = viewers.finish()
    assert fw.status()["mqtt"]["state"] == "offline"
    assert min(counts) >= 0.9 * 30 * seconds, (counts, seconds)
    b.start()
    back = time.time()
    listener = Listener(b.port)  # a new broker: it knows nothing of the camera
    assert wait_for(lambda: listener.payloads("openmv/door-cam/availability") == [b"online"]
                    and len(configs(listener)) == DEVICE, 10), listener.messages
    assert time.time() - back <= 10
    assert fw.status()["mqtt"]["connects"] == 3
    assert wait_for(lambda: fw.status()["viewers"] == 0)
    assert resting_heap(fw) - heap <= 1024, (heap, resting_heap(fw))
    listener.close()


def test_the_controls_are_entities_whose_commands_follow_the_rules_of_control(start, broker):
    b = broker()
    listener = Listener(b.port)
    fw = start(settings=mqtt_settings(b.port))
    assert wait_for(lambda: len(configs(listener)) == DEVICE, 15), sorted(configs(listener))
    found = configs(listener)
    quality = found["homeassistant/number/door-cam/quality/config"]
    assert (quality["min"], quality["max"], quality["step"]) == (10, 100, 1)
    assert quality["state_topic"] == "openmv/door-cam/controls"
    framesize = found["homeassistant/select/door-cam/framesize/config"]
    assert "QVGA" in framesize["options"] and "VGA" in framesize["options"]
    assert found["homeassistant/switch/door-cam/hmirror/config"]["name"] == "Mirror"
    assert found["homeassistant/button/door-cam/restart/config"]["device_class"] == "restart"
    states = lambda: [json.loads(p) for p in listener.payloads(quality["state_topic"])]  # noqa
    assert wait_for(lambda: states() and states()[-1]["quality"] == 85, 10), states()
    before = len(snapshot(fw))

    listener.client.publish(quality["command_topic"], "30")
    assert wait_for(lambda: control(fw)["quality"]["value"] == 30, 10)
    assert wait_for(lambda: states()[-1]["quality"] == 30, 10), states()  # what was applied
    assert len(snapshot(fw)) < 0.8 * before  # the frames themselves changed
    listener.client.publish("openmv/door-cam/set/hmirror", "ON")
    assert wait_for(lambda: control(fw)["hmirror"]["value"] is True, 10)
    assert wait_for(lambda: states()[-1]["hmirror"] is True, 10)

    answers = len(states())
    for topic, payload in (("quality", "loud"), ("quality", "500"), ("hmirror", "maybe"),
                           ("framesize", "HUGE"), ("zoom", "2")):
        listener.client.publish("openmv/door-cam/set/" + topic, payload)
    assert wait_for(lambda: fw.status()["mqtt"]["commands_refused"] == 5, 10), fw.status()
    status = fw.status()["mqtt"]
    assert status["commands"] == 2 and "zoom" in status["last_refused"], status
    now = control(fw)
    assert now["quality"]["value"] == 30 and now["framesize"]["value"] == "QVGA"
    assert now["hmirror"]["value"] is True
    # answered (the latest state per topic: one message may answer all five), so that Home
    # Assistant, which shows a command at once, shows it undone
    assert wait_for(lambda: len(states()) > answers, 10)
    assert states()[-1]["quality"] == 30
    assert 1 <= fw.console().count("mqtt: command") <= 5, fw.console()
    listener.close()


def test_a_change_from_the_web_shows_in_home_assistant(start, broker):
    b = broker()
    listener = Listener(b.port, "openmv/door-cam/controls")
    fw = start(settings=mqtt_settings(b.port))
    assert wait_for(lambda: listener.payloads("openmv/door-cam/controls"), 15)
    assert fw.post("/control", {"brightness": 2})[0] == 200
    assert wait_for(lambda: json.loads(listener.payloads("openmv/door-cam/controls")[-1])
                    ["brightness"] == 2, 10)
    listener.close()


def snapshot(fw):
    return fw.get("/snapshot.jpg")[2]


def control(fw):
    return json.loads(fw.get("/control")[2])



def test_the_buttons_save_the_settings_and_restart_the_camera(start, broker):
    b = broker()
    listener = Listener(b.port, "openmv/door-cam/controls")
    fw = start(settings=mqtt_settings(b.port))
    assert wait_for(lambda: listener.payloads("openmv/door-cam/controls"), 15)
    listener.client.publish("openmv/door-cam/set/quality", "40")
    listener.client.publish("openmv/door-cam/set/save", "PRESS")
    saved = os.path.join(fw.workdir, "settings.json")
    assert wait_for(lambda: json.load(open(saved)).get("camera", {}).get("quality") == 40, 10)
    assert json.load(open(saved))["mqtt"]["port"] == b.port  # the rest of the file kept
    listener.client.publish("openmv/door-cam/set/restart", "PRESS")
    assert fw.proc.wait(10) == 42  # machine.reset(): the board's supervisor starts it again
    assert "camera: restart asked over MQTT" in fw.console()
    listener.close()
