"""The camera's runtime controls as Home Assistant entities: a `select` for the frame size,
a `number` for the quality, the frame rate cap and each picture level, a `switch` for the
mirror, the flip and each auto control, and two `button`s: save the settings, restart.

Commands arrive on `<topic>/set/<control>` and go through the rules of POST /control (all
or nothing). A payload that is not a value of its control changes nothing: it is counted and
logged, once a second at most. `<topic>/controls` (retained) holds the values in force: sent
at each connect and after every change, from here or from the web, which is what Home
Assistant shows.
"""
import asyncio
import json

from ..log import log_limited

RESTART_DELAY_MS = 500  # time for the console line, and the broker's copy of the answer
NAMES = {"framesize": "Frame size", "fps_cap": "Frame rate cap", "hmirror": "Mirror",
         "vflip": "Flip", "auto_whitebalance": "Auto white balance"}


def _name(control):
    return NAMES.get(control) or control[:1].upper() + control[1:].replace("_", " ")


def _value(payload):
    """A command's payload as a control's value: ON/OFF as true/false, whole numbers as
    numbers (Home Assistant may send 85.0), anything else as text, which the control's
    check refuses unless it is one of its choices."""
    text = payload.decode()
    if text in ("ON", "OFF"):
        return text == "ON"
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number == int(number) else number


class ControlEntities:
    """The controls' discovery configs, states and commands."""

    def __init__(self, controls, client, base):
        self.controls = controls
        self.client = client
        self.state = base + "/controls"
        self.commands = base + "/set/"
        self.accepted = 0
        self.refused = 0
        self.last_refused = None
        controls.on_change = self.publish
        client.subscribe(self.commands + "+")

    def stats(self):
        return {"commands": self.accepted, "commands_refused": self.refused,
                "last_refused": self.last_refused}

    def configs(self):
        """Each control's discovery config: (platform, key, name, its fields)."""
        for control, about in self.controls.describe().items():
            fields = {"command_topic": self.commands + control, "state_topic": self.state,
                      "entity_category": "config",
                      "value_template": "{{ value_json.%s }}" % control}
            if "choices" in about:
                fields["options"] = about["choices"]
                yield "select", control, _name(control), fields
            elif isinstance(about["value"], bool):
                fields["value_template"] = "{{ 'ON' if value_json.%s else 'OFF' }}" % control
                yield "switch", control, _name(control), fields
            else:
                fields.update(min=about["min"], max=about["max"], step=1)
                yield "number", control, _name(control), fields
        for action, name, kind in (("save", "Save settings", None),
                                   ("restart", "Restart", "restart")):
            yield "button", action, name, {"command_topic": self.commands + action,
                                           "entity_category": "config", "device_class": kind}

    def publish(self):
        values = {control: about["value"] for control, about in self.controls.describe().items()}
        self.client.publish(self.state, json.dumps(values), True)

    def heard(self, topic, payload):
        """Take a command on its way (True), or leave the message to others (False)."""
        if not topic.startswith(self.commands):
            return False
        asyncio.create_task(self.command(topic[len(self.commands):], payload))
        return True

    async def command(self, control, payload):
        if control == "restart":
            log_limited("restart", "camera: restart asked over MQTT")
            await asyncio.sleep_ms(RESTART_DELAY_MS)
            import machine
            machine.reset()
        try:
            changes = {"save": True} if control == "save" else {control: _value(payload)}
        except UnicodeError:
            changes = {control: None}  # not text: the check refuses it
        status, answer = await self.controls.set(changes)
        if status == 200:
            self.accepted += 1
            return
        self.refused += 1
        self.last_refused = "%s: %s" % (control, answer)
        log_limited("ha-command", "mqtt: command %s refused: %s" % (control, answer))
