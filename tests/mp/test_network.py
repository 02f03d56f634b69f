"""Run under MicroPython, against the host stand-ins: joining, falling back, rejoining."""
import _thread
import asyncio
import socket
import struct

import network
import ntptime

from camstream import net, settings, sntp
from check import check, report

net.JOIN_TIMEOUT_MS = 300
quiet = settings.validate
cfg = quiet({"wifi": [{"ssid": "gone", "password": "x"}, {"ssid": "home", "password": "pw"}],
             "ap": {"password": "long enough"}, "name": "door-cam"}, warn=lambda *_: None)

network.NETWORKS.clear()
network.NETWORKS["home"] = "pw"
address = net.start(cfg)
check("joins the network that answers", address == "127.0.0.1" and network.WLAN(0).isconnected())
check("sets the clock by NTP when online", ntptime.calls == 1)
check("the name is the host name", network.hostname() == cfg["name"] == "door-cam")
check("mDNS has the name: set before the interface came up",
      network.WLAN(0).mdns_name == "door-cam")
check("a default name from the MAC", net.default_name() == "openmv-5e1000")
check("the camera's address", net.address() == "127.0.0.1")

network.WLAN(0).disconnect()
network.NETWORKS.clear()
address = net.join(cfg, timeout_ms=300, rounds=2)
check("no network answers: gives up in bounded time", address is None)
check("tried every network, every round", network.WLAN(0).joins >= 2 + 4)
address = net.start(dict(cfg, **{"wifi": cfg["wifi"]}))
ap = network.WLAN(1)
check("falls back to a WPA2 access point", ap.active() and ap.config("key") == "long enough"
      and ap.config("ssid") == "openmv-cam" and ap.config("security") is None)
check("no station yet: the access point's address, not loopback",
      not ap.isconnected() and net.address() == network.AP_ADDRESS)
check("no NTP while offline", ntptime.calls == 1)

ap.active(False)
closed = quiet({"wifi": []}, warn=lambda *_: None)
check("no password, not asked open: no access point", net.open_access_point(closed) is None
      and not ap.active())
opened = quiet({"ap": {"open": True}}, warn=lambda *_: None)
net.open_access_point(opened)
check("open access point only when asked", ap.active() and ap.config("security") == 0)


async def rejoin():
    network.NETWORKS["home"] = "pw"
    sta = network.WLAN(0)
    sta.connect("home", "pw")
    await asyncio.sleep_ms(300)
    watcher = asyncio.create_task(net.keep_connected(cfg, check_ms=100))
    await asyncio.sleep_ms(300)
    joins = sta.joins
    network.drop()
    network.join_errors = 2  # the chip refuses the first two joins (OSError)
    check("link dropped", not sta.isconnected())
    await asyncio.sleep_ms(3500)  # both refused, then the back-off (2 s), then a join
    check("notices the drop and rejoins without a restart, past joins that raised",
          sta.isconnected() and sta.joins > joins and network.join_errors == 0)
    watcher.cancel()

asyncio.run(rejoin())


def ntp_server(sock):
    """Answer one SNTP query: 2025-11-25 00:00:00.5 (NTP counts from 1900)."""
    query, peer = sock.recvfrom(48)
    answer = bytearray(48)
    answer[0] = 0x1C  # version 3, a server
    answer[40:48] = struct.pack("!II", 1764028800 + sntp.NTP_1970, 1 << 31)
    sock.sendto(answer, peer)


server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
server.bind(socket.getaddrinfo("127.0.0.1", 47123)[0][-1])
_thread.start_new_thread(ntp_server, (server,))
check("an SNTP answer in Unix milliseconds",
      sntp.sntp_ms("127.0.0.1", port=47123) == 1764028800500)
server.close()
report()
