"""RTSP viewers for the benchmark, in a process of their own: N sessions over TCP (interleaved)
or UDP, each counting the whole frames it receives (the packet with the marker bit).
`udp-detached` sessions close their connection once they play, as lwIP's five connections
need on a board.

Usage: python bench/rtsp_clients.py HOST PORT tcp|udp|udp-detached N SECONDS
Prints JSON: {"frames": [per session], "bytes": [per session], "seconds": measured}.
"""
import json
import selectors
import socket
import sys
import time


def request(sock, text):
    """(its headers, by lower-case name, and what followed them)."""
    sock.sendall(text.encode())
    data = b""
    while True:
        if data[:1] == b"$":  # interleaved data before the answer: skipped
            if len(data) >= 4 and len(data) >= 4 + int.from_bytes(data[2:4], "big"):
                data = data[4 + int.from_bytes(data[2:4], "big"):]
                continue
        elif b"\r\n\r\n" in data:
            break
        data += sock.recv(4096)
    head, _, rest = data.partition(b"\r\n\r\n")
    headers = dict((k.strip().lower(), v.strip()) for k, _, v in
                   (line.decode().partition(":") for line in head.split(b"\r\n")[1:]))
    return headers, rest


def track(sock, url):
    """The URL to SETUP: the SDP's control attribute, against its Content-Base."""
    headers, body = request(sock, "DESCRIBE %s RTSP/1.0\r\nCSeq: 0\r\nAccept: "
                            "application/sdp\r\n\r\n" % url)
    while len(body) < int(headers.get("content-length", 0)):
        body += sock.recv(4096)
    control = [line[10:] for line in body.decode().split("\r\n") if line.startswith("a=control:")
               and line[10:] != "*"][-1]
    base = headers.get("content-base", url + "/")
    return control if "://" in control else base.rstrip("/") + "/" + control


def open_session(host, port, transport):
    """(control socket, RTP socket or None, PLAY request, TEARDOWN request), set up."""
    sock = socket.create_connection((host, port), timeout=10)
    url = track(sock, "rtsp://%s:%d/stream" % (host, port))
    if transport == "tcp":
        spec, rtp = "RTP/AVP/TCP;unicast;interleaved=0-1", None
    else:
        rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rtp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        rtp.bind((sock.getsockname()[0], 0))  # where the camera reaches this host
        low = rtp.getsockname()[1]
        spec = "RTP/AVP;unicast;client_port=%d-%d" % (low, low + 1)
    headers, _ = request(sock, "SETUP %s RTSP/1.0\r\nCSeq: 1\r\nTransport: %s\r\n\r\n"
                         % (url, spec))
    session = headers["session"].split(";")[0]
    base = url.rsplit("/", 1)[0]
    return sock, rtp, "PLAY %s RTSP/1.0\r\nCSeq: 2\r\nSession: %s\r\n\r\n" % (
        base, session), "TEARDOWN %s RTSP/1.0\r\nCSeq: 3\r\nSession: %s\r\n\r\n" % (
        base, session)


def main(host, port, transport, count, seconds):
    detached = transport == "udp-detached"
    transport = "udp" if detached else transport
    sessions, buffers = [], []  # and what followed each PLAY answer
    for _ in range(int(count)):
        sessions.append(open_session(host, int(port), transport))
        if detached:  # playing, it needs its connection no more (a board has five)
            sock, _, play, _ = sessions[-1]
            buffers.append(request(sock, play)[1])
            sock.close()
    if not detached:  # all set up before any plays: a playing session is not read until all
        # play, and the camera drops one that takes nothing for a second while another waits
        buffers = [request(sock, play)[1] for sock, _, play, _ in sessions]
    frames = [0] * len(sessions)
    received = [0] * len(sessions)
    selector = selectors.DefaultSelector()
    for i, (sock, rtp, _, _) in enumerate(sessions):
        (rtp or sock).setblocking(False)
        selector.register(rtp or sock, selectors.EVENT_READ, i)
    began = time.time()
    while time.time() - began < float(seconds):
        for key, _ in selector.select(0.5):
            i = key.data
            if transport == "udp":
                while True:
                    try:
                        packet = key.fileobj.recv(2048)
                    except BlockingIOError:
                        break
                    received[i] += len(packet)
                    frames[i] += packet[1] >> 7  # the marker: a frame's last packet
                continue
            try:
                data = key.fileobj.recv(1 << 18)  # as the MJPEG viewers read
            except BlockingIOError:
                continue
            received[i] += len(data)
            buf, at = buffers[i] + data if buffers[i] else data, 0
            while len(buf) - at >= 4 and buf[at] == 0x24:
                size = (buf[at + 2] << 8) | buf[at + 3]
                if len(buf) - at < 4 + size:
                    break
                if buf[at + 1] == 0:
                    frames[i] += buf[at + 5] >> 7
                at += 4 + size
            buffers[i] = buf[at:]
    took = time.time() - began
    for sock, rtp, _, teardown in sessions:  # a UDP session outlives its connection
        if rtp and not detached:
            sock.setblocking(True)
            request(sock, teardown)
        sock.close()
    print(json.dumps({"frames": frames, "bytes": received, "seconds": took}))


if __name__ == "__main__":
    main(*sys.argv[1:6])
