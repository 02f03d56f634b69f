"""The network: join Wi-Fi as a station, else open an access point, and keep the link up."""
import asyncio
import time

from .log import log, log_limited

JOIN_TIMEOUT_MS = 15000
JOIN_ROUNDS = 2  # tries of every configured network before falling back to the access point
RECONNECT_MIN_MS = 2000
RECONNECT_MAX_MS = 60000


def _wlan(kind):
    import network
    return network.WLAN(getattr(network, kind))


def _connect(sta, net):
    """Start joining `net`; False if the Wi-Fi chip refused at once (cyw43 raises OSError)."""
    try:
        sta.connect(net["ssid"], net.get("password", ""))
        return True
    except OSError as exc:
        log_limited("join", "wifi: joining %s failed: %r" % (net["ssid"], exc))
        return False


def _join(sta, net, timeout_ms):
    if not _connect(sta, net):
        return False
    deadline = time.ticks_add(time.ticks_ms(), timeout_ms)
    while not sta.isconnected() and time.ticks_diff(deadline, time.ticks_ms()) > 0:
        time.sleep_ms(100)
    return sta.isconnected()


def join(cfg, timeout_ms=None, rounds=JOIN_ROUNDS):
    """Join the first configured network that answers (blocking, bounded); its address or None."""
    timeout_ms = timeout_ms or JOIN_TIMEOUT_MS
    if not cfg["wifi"]:
        return None
    try:  # before the interface comes up: cyw43 gives mDNS the name it has then
        import network
        network.hostname(cfg["name"])  # for DHCP, and mDNS's <name>.local
    except (ImportError, AttributeError, OSError, ValueError):
        pass
    sta = _wlan("STA_IF")
    sta.active(True)
    for attempt in range(rounds):
        for net in cfg["wifi"]:
            log("wifi: joining %s (try %d of %d)" % (net["ssid"], attempt + 1, rounds))
            if _join(sta, net, timeout_ms):
                return sta.ifconfig()[0]
            sta.disconnect()
    log("wifi: no configured network answered")
    return None


def open_access_point(cfg):
    """Start the fallback access point (WPA2 unless settings ask for an open one); its address."""
    if cfg["ap.ssid"] is None:
        log("wifi: no access point (it needs ap.password of 8+ characters, or ap.open: true)")
        return None
    ap = _wlan("AP_IF")
    if cfg["ap.open"]:
        ap.config(ssid=cfg["ap.ssid"], security=0)
        log("wifi: OPEN access point %s (no password, as settings ask)" % cfg["ap.ssid"])
    else:
        ap.config(ssid=cfg["ap.ssid"], key=cfg["ap.password"])
        log("wifi: access point %s (WPA2)" % cfg["ap.ssid"])
    ap.active(True)
    return ap.ifconfig()[0]


def set_clock():
    """Set the clock by NTP, so X-Timestamp carries real time; False if it could not. A
    board whose `time` has no time() (AE3 on firmware 4.8) cannot be set: the wall clock
    takes NTP's answer itself."""
    from .clock import wall_clock
    try:
        if wall_clock.known:
            import ntptime
            ntptime.settime()
        else:
            from .sntp import sntp_ms  # a board whose time() is missing needs it only
            wall_clock.set(sntp_ms())
        return True
    except Exception as exc:  # no ntptime, no DNS, no answer: the clock stays as it is
        log("clock: NTP failed (%r); timestamps count from the %s" % (
            exc, "board's clock" if wall_clock.known else "start: the time is unknown"))
        return False


def longest_start_ms(cfg):
    """The most a start() can take: every network tried, every round, to its time limit,
    and NTP's answer."""
    return len(cfg["wifi"]) * JOIN_ROUNDS * JOIN_TIMEOUT_MS + 10000


def start(cfg):
    """Boot-time network: station, else access point; sets the clock when online."""
    address = join(cfg)
    if address:
        set_clock()
        return address
    return open_access_point(cfg)


async def keep_connected(cfg, check_ms=5000):
    """Notice a dropped station link and rejoin with back-off, without restarting the board."""
    if not cfg["wifi"]:
        return
    sta = _wlan("STA_IF")
    delay = RECONNECT_MIN_MS
    while True:
        await asyncio.sleep_ms(check_ms)
        if sta.isconnected():
            delay = RECONNECT_MIN_MS
            continue
        log_limited("wifi", "wifi: link lost; rejoining")
        for net in cfg["wifi"]:
            if not _connect(sta, net):
                continue
            deadline = time.ticks_add(time.ticks_ms(), JOIN_TIMEOUT_MS)
            while not sta.isconnected() and time.ticks_diff(deadline, time.ticks_ms()) > 0:
                await asyncio.sleep_ms(200)
            if sta.isconnected():
                log("wifi: rejoined %s at %s" % (net["ssid"], sta.ifconfig()[0]))
                break
        else:
            await asyncio.sleep_ms(delay)
            delay = min(delay * 2, RECONNECT_MAX_MS)


def default_name():
    """The camera's name when settings give none: openmv- and the last 6 hex digits of its
    MAC, so that two cameras on one network differ."""
    try:
        mac = _wlan("STA_IF").config("mac")
        return "openmv-" + "".join("%02x" % b for b in mac[-3:])
    except (ImportError, AttributeError, OSError, ValueError, TypeError):
        return "openmv-cam"


def address():
    """The address viewers reach the camera at: the station's when joined, else the access
    point's when it is up (its isconnected() is false until a station associates)."""
    try:
        sta, ap = _wlan("STA_IF"), _wlan("AP_IF")
        if sta.isconnected():
            return sta.ifconfig()[0]
        if ap.active():
            return ap.ifconfig()[0]
    except (ImportError, AttributeError, OSError):
        pass
    return "127.0.0.1"
