"""The network stack's limits. On a board it is lwIP under MicroPython's modlwip: one small heap
holds every socket's queued bytes, and a write that finds it full holds the whole VM
(`lwip_tcp_send` retries every 50 ms, for up to 10 s). The unix port's POSIX sockets have no
such limits."""
import socket
import sys

PCBS = 5  # lwIP's MEMP_NUM_TCP_PCB: no port sets it, so every board has lwIP's default
BOARDS = (  # what sys.implementation._machine names: lwIP's MEM_SIZE, TCP_MSS, TCP_SND_BUF
    ("N6", 65536, 1460, 23360),  # ports/stm32/lwip_inc/lwipopts.h, STM32N6
    ("AE3", 16384, 1460, 11680),  # ports/alif/lwip_inc/lwipopts.h
)
SMALLEST = (8000, 800, 6400)  # lwipopts_common.h: RT1062, Nicla Vision, Portenta H7, GIGA
POSIX_VIEWERS = 8  # the viewers' cap on the unix port's sockets
RTSP_CONNECTIONS = 2  # lwIP's connections RTSP keeps for itself: a TCP viewer and one more
UDP_VIEWERS = 4  # RTSP's UDP sessions beyond what the connections carry: they hold none


class Limits:
    def __init__(self, heap, mss, sndbuf):
        self.heap = heap  # bytes for every socket's queued data together
        self.mss = mss
        self.sndbuf = sndbuf  # what one socket may queue
        self.connections = PCBS


def limits():
    """The lwIP stack's Limits, or None on POSIX sockets (no TCP_NODELAY in the module)."""
    if not hasattr(socket, "TCP_NODELAY"):
        return None
    machine = sys.implementation._machine
    for name, heap, mss, sndbuf in BOARDS:
        if name in machine:
            return Limits(heap, mss, sndbuf)
    try:  # the desk's lwIP interpreter says which board's options it was built with
        import lwiptun
        heap = lwiptun.stats()["heap_size"]
        for _, size, mss, sndbuf in BOARDS:
            if size == heap:
                return Limits(heap, mss, sndbuf)
    except ImportError:
        pass
    return Limits(*SMALLEST)


def budget(limits, viewers, clients, rtsp=False):
    """(connections the web server may hold, the viewers' cap, RTSP's connections). On lwIP:
    the stack's count less one kept free to answer 503, less the camera's own `clients`
    (MQTT), less RTSP_CONNECTIONS with RTSP on; viewers one fewer, so the page and
    /status.json still get in, and with RTSP, UDP_VIEWERS more (its UDP sessions hold no
    connection). `viewers` given (not 0) is kept within that, with one console line if it had
    to be cut."""
    if limits is None:
        viewers = viewers or POSIX_VIEWERS
        return viewers + 4, viewers, viewers + 2
    reserved = RTSP_CONNECTIONS if rtsp else 0
    connections = limits.connections - 1 - clients - reserved
    udp = reserved + UDP_VIEWERS if rtsp else 0  # RTSP's viewers beyond the web server's
    if viewers > connections + udp:
        print("camera: viewers.max %d is more than lwIP's %d connections carry: %d"
              % (viewers, limits.connections, connections + udp))
    return (connections, min(viewers, connections + udp) if viewers else
            max(1, connections - 1) + udp, reserved)
