"""The camera on MQTT, for Home Assistant and the like: loaded only when settings name a
broker (mqtt.host). The device's topics sit under mqtt.topic (default openmv/<name>);
`<topic>/availability` says `online` while the camera is connected and `offline`, by the
broker's last will, once it is not."""
from .mqtt_client import MqttClient


def connect(cfg):
    """The MQTT client for the settings' broker; its run() keeps the connection."""
    topic = cfg["mqtt.topic"] or "openmv/" + cfg["name"]
    return MqttClient(cfg["mqtt.host"], cfg["mqtt.port"], cfg["name"], cfg["mqtt.user"],
                      cfg["mqtt.password"], topic + "/availability", cfg["mqtt.keepalive_s"])
