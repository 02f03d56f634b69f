"""Host stand-in for MicroPython's `network` module (never flashed).

The simulated air: `NETWORKS` maps the SSIDs in range to their passwords (from $SIM_WIFI,
"ssid:password,ssid2:password2"); a join succeeds after `JOIN_MS` when the password matches.
`drop()` cuts the station's link, as a router reboot would. Addresses are loopback, where the
host's server really listens.
"""
import os
import time

STA_IF = 0
AP_IF = 1
JOIN_MS = 200
NETWORKS = dict(pair.split(":", 1) for pair in (os.getenv("SIM_WIFI") or "").split(",") if pair)
_hostname = "micropython"
_interfaces = {}
AP_ADDRESS = "192.168.4.1"  # cyw43's access point; the host's server listens on loopback
join_errors = int(os.getenv("SIM_JOIN_ERRORS") or 0)  # connects that raise, as a failed join


def hostname(name=None):
    global _hostname
    if name is None:
        return _hostname
    _hostname = name


def drop():
    _interfaces[STA_IF]._joined_at = None


class WLAN:
    def __new__(cls, interface=STA_IF):
        if interface not in _interfaces:
            wlan = object.__new__(cls)
            wlan._interface = interface
            wlan._active = False
            wlan._joined_at = None
            wlan._config = {"mac": b"\x02\x00\x00\x5e\x10" + bytes((interface,))}
            wlan.joins = 0
            wlan.stations = 0
            wlan.mdns_name = None
            _interfaces[interface] = wlan
        return _interfaces[interface]

    def __init__(self, interface=STA_IF):
        pass

    def active(self, state=None):
        if state is None:
            return self._active
        if state and not self._active:
            self.mdns_name = _hostname  # cyw43 registers the name with mDNS when it comes up
        self._active = bool(state)

    def connect(self, ssid, key=""):
        global join_errors
        if join_errors:  # cyw43_wifi_join failed: network_cyw43.c raises OSError(-ret)
            join_errors -= 1
            raise OSError(1)
        self.joins += 1
        self._joined_at = None
        if NETWORKS.get(ssid) == key:
            self._joined_at = time.ticks_add(time.ticks_ms(), JOIN_MS)
        self._config["ssid"] = ssid

    def disconnect(self):
        self._joined_at = None

    def isconnected(self):
        if self._interface == AP_IF:  # cyw43: up and at least one station associated
            return self._active and self.stations > 0
        return self._joined_at is not None and time.ticks_diff(time.ticks_ms(), self._joined_at) >= 0

    def config(self, *args, **kwargs):
        if args:
            return self._config.get(args[0])
        self._config.update(kwargs)

    def status(self, what=None):
        if what == "rssi":
            return -52 if self.isconnected() else 0
        return 3 if self.isconnected() else 0

    def ifconfig(self):
        if self._interface == AP_IF:
            return (AP_ADDRESS if self._active else "0.0.0.0", "255.255.255.0", AP_ADDRESS,
                    AP_ADDRESS)
        up = self.isconnected()
        return ("127.0.0.1" if up else "0.0.0.0", "255.0.0.0", "127.0.0.1", "127.0.0.1")
