"""MQTT and Home Assistant (settings `mqtt.*`), plugged in when `mqtt.host` is set: the
client (client.py), the device Home Assistant discovers (home_assistant.py) and the camera's
runtime controls as its entities (control_entities.py)."""
from .home_assistant import start as plug  # noqa: F401
