"""RTSP against real players (ffmpeg and ffprobe, GStreamer's rtspsrc) over TCP and UDP, a
raw client for what players never send, and the MJPEG viewers beside them."""
import ctypes
import os
import re
import socket
import subprocess
import threading
import time

import pytest

from firmware import Counter, MjpegReader, rtsp_settings, wait_for

TIMEOUT = 90


def rtsp_camera(start, settings=None, rtsp=None, **more):
    rtsp = dict(rtsp_settings(), **(rtsp or {}))
    fw = start(settings=dict({"rtsp": rtsp}, **(settings or {})), **more)
    fw.rtsp = "rtsp://127.0.0.1:%d/stream" % rtsp["port"]
    fw.rtsp_port = rtsp["port"]
    return fw


def ffmpeg(url, transport, frames=30, level="warning", more=()):
    return subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", level,
                           "-rtsp_transport", transport, "-i", url, "-frames:v", str(frames),
                           "-enc_time_base", "-1"]  # the stream's own 90 kHz clock
                          + list(more) + ["-f", "null", "-"], capture_output=True,
                          timeout=TIMEOUT)


def gstreamer(url, protocol, frames=30):
    return subprocess.run(["gst-launch-1.0", "-m", "rtspsrc", "location=" + url,
                           "protocols=" + protocol, "!", "rtpjpegdepay", "!", "jpegdec", "!",
                           "identity", "eos-after=%d" % frames, "!", "fakesink"],
                          capture_output=True, timeout=TIMEOUT)


def rtsp_status(fw):
    return fw.status()["rtsp"]


class Client:
    """An RTSP client on a raw socket, for what players never send."""

    def __init__(self, port, rcvbuf=None, host="127.0.0.1"):
        self.sock = socket.socket()
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(15)
        self.sock.connect((host, port))
        self.url = "rtsp://%s:%d/stream" % (host, port)
        self.cseq = 0
        self.buf = b""
        self.last_session = None

    def send(self, data):
        self.sock.sendall(data)

    def ask(self, method, url=None, headers=None):
        """Send a request, not waiting for its answer."""
        self.cseq += 1
        lines = ["%s %s RTSP/1.0" % (method, url or self.url), "CSeq: %d" % self.cseq]
        lines += ["%s: %s" % item for item in (headers or {}).items()]
        self.send(("\r\n".join(lines) + "\r\n\r\n").encode())

    def request(self, method, url=None, headers=None):
        self.ask(method, url, headers)
        return self.response()

    def response(self):
        """(status, headers, body), skipping interleaved `$` frames."""
        while True:
            while len(self.buf) < 4 and self._fill():
                pass
            if self.buf[:1] == b"$":
                while len(self.buf) < 4 + int.from_bytes(self.buf[2:4], "big"):
                    self._fill()
                self.buf = self.buf[4 + int.from_bytes(self.buf[2:4], "big"):]
                continue
            while b"\r\n\r\n" not in self.buf:
                if not self._fill():
                    return None, {}, b""
            head, self.buf = self.buf.split(b"\r\n\r\n", 1)
            lines = head.decode().split("\r\n")
            headers = {}
            for name, _, value in (line.partition(":") for line in lines[1:]):
                name = name.strip().lower()  # a header given twice: its values, a line each
                headers[name] = (headers[name] + "\n" if name in headers else "") + value.strip()
            length = int(headers.get("content-length", 0))
            while len(self.buf) < length:
                self._fill()
            body, self.buf = self.buf[:length], self.buf[length:]
            if "session" in headers:
                self.last_session = headers["session"].split(";")[0]
            return int(lines[0].split()[1]), headers, body

    def _fill(self):
        data = self.sock.recv(65536)
        self.buf += data
        return bool(data)

    def closed(self, timeout=15):
        """True once the camera has closed the connection."""
        self.sock.settimeout(timeout)
        try:
            while self.sock.recv(65536):
                pass
            return True
        except socket.timeout:
            return False
        except OSError:  # reset: closed with bytes unread
            return True

    def close(self):
        self.sock.close()


@pytest.mark.parametrize("heap", ["2M", "296K"])  # TCP frames from a wire buffer, or apart
def test_ffmpeg_and_gstreamer_decode_every_frame_over_tcp_and_udp(start, heap):
    fw = rtsp_camera(start, heap=heap)
    for transport in ("tcp", "udp"):
        run = ffmpeg(fw.rtsp, transport)
        assert run.returncode == 0 and not run.stderr.strip(), (transport, run.stderr)
        run = gstreamer(fw.rtsp, transport)
        out = (run.stdout + run.stderr).decode(errors="replace")
        assert run.returncode == 0 and "EOS" in out, out
        assert not re.search(r"WARN|ERROR", out), out
    probe = subprocess.run(["ffprobe", "-v", "error", "-rtsp_transport", "tcp", "-show_entries",
                            "stream=codec_name,width,height", "-of", "csv=p=0", fw.rtsp],
                           capture_output=True, text=True, timeout=TIMEOUT)
    assert probe.stdout.strip() == "mjpeg,320,240", probe
    status = rtsp_status(fw)
    assert status["udp_dropped"] == 0 and status["unsupported"] is None, status
    assert wait_for(lambda: rtsp_status(fw)["sessions"] == 0, 15), rtsp_status(fw)


OPENCV = """
import sys, cv2
capture = cv2.VideoCapture(sys.argv[1], cv2.CAP_FFMPEG)
shapes = []
while len(shapes) < 30:
    ok, image = capture.read()
    if not ok:
        break
    shapes.append(image.shape)
print(len(shapes), set(shapes))
"""


def test_opencv_reads_every_frame_over_tcp_and_udp(start):
    fw = rtsp_camera(start)
    for transport in ("tcp", "udp"):  # Debian's python3-opencv, through its ffmpeg
        run = subprocess.run(["/usr/bin/python3", "-c", OPENCV, fw.rtsp], capture_output=True,
                             text=True, timeout=TIMEOUT, env=dict(
                                 os.environ, OPENCV_FFMPEG_CAPTURE_OPTIONS="rtsp_transport;"
                                 + transport))
        assert run.returncode == 0 and run.stdout.strip() == "30 {(240, 320, 3)}", run


def test_a_frame_size_change_reaches_an_rtsp_viewer(start):
    fw = rtsp_camera(start, heap="1M")  # room for VGA frame buffers
    sizes = []
    viewer = subprocess.Popen(["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "info",
                               "-rtsp_transport", "tcp", "-i", fw.rtsp, "-t", "8", "-vf",
                               "showinfo", "-f", "null", "-"], stderr=subprocess.PIPE)
    threading.Thread(target=lambda: sizes.extend(
        re.findall(rb" s:(\d+x\d+) ", viewer.stderr.read())), daemon=True).start()
    time.sleep(3)
    assert fw.post("/control", {"framesize": "VGA"})[0] == 200
    viewer.wait(TIMEOUT)
    assert wait_for(lambda: sizes, 5)
    assert sizes[0] == b"320x240" and sizes[-1] == b"640x480", set(sizes)


def test_six_viewers_of_mixed_transports_and_mjpeg_viewers_beside(start):
    fw = rtsp_camera(start, settings={"viewers": {"max": 8}})
    results = {}

    def play(name, transport, delay):
        time.sleep(delay)
        results[name] = ffmpeg(fw.rtsp, transport, frames=90)

    players = [threading.Thread(target=play, args=("%s%d" % (t, i), t, 3 * (i == 1)))
               for t in ("tcp", "udp") for i in range(2)]  # the second of each joins late
    mjpeg = [MjpegReader(fw.port), MjpegReader(fw.port)]
    for reader in mjpeg:
        reader.opening()
    for player in players:
        player.start()
    began, before = time.time(), fw.status()["captures"]
    counts = [0, 0]
    while time.time() - began < 6:
        for i, reader in enumerate(mjpeg):
            reader.part()
            counts[i] += 1
    rate = (fw.status()["captures"] - before) / (time.time() - began)
    for player in players:
        player.join(TIMEOUT)
    for name, run in results.items():
        assert run.returncode == 0 and not run.stderr.strip(), (name, run.stderr)
    assert len(results) == 4
    assert 25 <= rate <= 32, rate  # one sensor read a frame, however many viewers
    for count in counts:
        assert count >= 0.8 * 6 * 30, counts


def test_a_stuck_tcp_session_is_dropped_and_the_others_keep_their_rate(start):
    fw = rtsp_camera(start, settings={"viewers": {"stall_timeout_s": 2}})
    stuck = Client(fw.rtsp_port, rcvbuf=4096)
    assert stuck.request("SETUP", stuck.url + "/track0",
                         {"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1"})[0] == 200
    assert stuck.request("PLAY", headers={"Session": stuck.last_session})[0] == 200
    # and then it never reads again, while another viewer plays 10 s at the sensor's rate
    began = time.time()
    run = ffmpeg(fw.rtsp, "udp", frames=300)
    assert run.returncode == 0 and not run.stderr.strip(), run.stderr
    assert time.time() - began < 10 / 0.8 + 3  # at 80% of the sensor's rate or better
    assert wait_for(lambda: "rtsp: a connection that took nothing was dropped" in fw.console(),
                    20), fw.console()
    assert stuck.closed()
    assert wait_for(lambda: rtsp_status(fw)["sessions"] == 0 and fw.status()["viewers"] == 0,
                    10), rtsp_status(fw)


def test_tcp_players_that_close_without_a_word_end_their_sessions(start):
    """A playing TCP session's connection is looked at now and then, not waited on: a close
    is still seen, and a TEARDOWN answered, in well under the session's timeout."""
    fw = rtsp_camera(start, settings={"viewers": {"max": 8}})
    time.sleep(1)
    files = fds(fw)
    players = []
    for _ in range(6):
        player = Client(fw.rtsp_port)
        assert player.request("SETUP", player.url + "/track0",
                              {"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1"})[0] == 200
        assert player.request("PLAY", headers={"Session": player.last_session})[0] == 200
        players.append(player)
    assert wait_for(lambda: rtsp_status(fw)["playing"]["tcp"] == 6, 10), rtsp_status(fw)
    for player in players[:5]:
        player.close()
    assert wait_for(lambda: rtsp_status(fw)["sessions"] == 1, 10), rtsp_status(fw)
    last = players[5]
    assert last.request("TEARDOWN", headers={"Session": last.last_session})[0] == 200
    assert rtsp_status(fw)["sessions"] == 0, rtsp_status(fw)
    last.close()
    assert wait_for(lambda: rtsp_status(fw)["connections"] == 0 and fds(fw) <= files, 10), (
        rtsp_status(fw), fds(fw), files)


@pytest.mark.parametrize("heap,apart", [("2M", False), ("296K", True)])
def test_a_tcp_session_on_its_own_channels_gets_whole_packets_between_its_answers(start, heap,
                                                                                   apart):
    """Frames laid out in a wire buffer (the channels rewritten in a copy), and, where the
    heap has no room for one, written a packet at a time."""
    fw = rtsp_camera(start, heap=heap)
    client = Client(fw.rtsp_port)
    assert client.request("SETUP", client.url + "/track0", {
        "Transport": "RTP/AVP/TCP;unicast;interleaved=4-5"})[1]["transport"].endswith("=4-5")
    session = client.last_session
    assert client.request("PLAY", headers={"Session": session})[0] == 200
    frames = reports = answers = 0
    offset, seq = 0, None
    while frames < 200:  # about 7 s: an RTCP sender report comes every 5 s
        while len(client.buf) < 4:
            client._fill()
        if client.buf[:1] != b"$":  # the answer to a keep-alive, whole, between two frames
            status, headers, _ = client.response()
            assert status == 200 and headers["cseq"] == str(client.cseq), headers
            answers += 1
            continue
        size = int.from_bytes(client.buf[2:4], "big")
        while len(client.buf) < 4 + size:
            client._fill()
        channel, packet, client.buf = client.buf[1], client.buf[4:4 + size], client.buf[4 + size:]
        assert channel in (4, 5), channel
        if channel == 5:
            reports += packet[1] == 200  # a sender report
            continue
        assert packet[1] & 0x7F == 26
        fragment, at = jpeg_payload(packet)
        if fragment:  # the frame's next packet: no byte missing, none out of order
            assert fragment == offset and int.from_bytes(packet[2:4], "big") == seq + 1 & 0xFFFF
        else:
            offset = 0
        seq = int.from_bytes(packet[2:4], "big")
        offset += size - at
        if packet[1] & 0x80:  # the marker: the frame's last packet
            frames += 1
            if frames % 20 == 0:
                client.ask("GET_PARAMETER", headers={"Session": session})
    assert answers >= 9 and reports >= 1, (answers, reports)
    assert ("packets are written apart" in fw.console()) == apart, fw.console()


def jpeg_payload(packet):
    """(fragment offset, where the scan data starts) of an RTP/JPEG packet (RFC 2435): after
    the RTP and JPEG headers, a restart header, and in a frame's first packet the tables."""
    offset = int.from_bytes(packet[13:16], "big")
    at = 20 + (4 if packet[16] & 64 else 0)
    if offset == 0 and packet[17] >= 128:
        at += 4 + int.from_bytes(packet[at + 2:at + 4], "big")
    return offset, at


def udp_session(port, client=None, host="127.0.0.1", local="127.0.0.1"):
    """A UDP session set up and playing from a raw client: (client, its RTP socket, bound
    on `local`)."""
    client = client or Client(port, host=host)
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sink.bind((local, 0))
    sink.settimeout(5)
    low = sink.getsockname()[1]
    status, headers, _ = client.request("SETUP", client.url + "/track0", {
        "Transport": "RTP/AVP;unicast;client_port=%d-%d" % (low, low + 1)})
    assert status == 200 and "server_port=" in headers["transport"], (status, headers)
    assert client.request("PLAY", headers={"Session": client.last_session})[0] == 200
    return client, sink


def test_a_udp_client_that_falls_silent_expires(start):
    fw = rtsp_camera(start, rtsp={"session_s": 5})
    silent, sink = udp_session(fw.rtsp_port)
    assert sink.recv(2048)[1] & 0x7F == 26  # RTP/JPEG arrives; then the client says nothing
    assert wait_for(lambda: rtsp_status(fw)["sessions"] == 0, 15), rtsp_status(fw)
    assert "rtsp: session %s expired: its client fell silent" % silent.last_session \
        in fw.console()
    assert silent.closed()


def test_a_udp_session_outlives_its_connection_until_teardown(start):
    fw = rtsp_camera(start)
    client, sink = udp_session(fw.rtsp_port)
    session = client.last_session
    client.close()  # a board has few TCP connections: a UDP client may let go of its own
    time.sleep(1)
    sink.recv(2048)
    assert rtsp_status(fw)["playing"]["udp"] == 1 and rtsp_status(fw)["connections"] == 0
    other = Client(fw.rtsp_port)
    assert other.request("GET_PARAMETER", headers={"Session": session})[0] == 200
    assert other.request("TEARDOWN", headers={"Session": session})[0] == 200
    assert rtsp_status(fw)["sessions"] == 0
    assert other.request("TEARDOWN", headers={"Session": session})[0] == 454


def test_login_by_basic_and_digest_and_credentials_in_the_url(start):
    users = [{"user": "nvr", "password": "nvr-Pa55", "role": "viewer"}]
    fw = rtsp_camera(start, settings={"users": users})
    client = Client(fw.rtsp_port)
    status, headers, _ = client.request("OPTIONS")
    assert status == 401 and "Digest" in headers["www-authenticate"]
    began = time.time()
    assert client.request("OPTIONS", headers={"Authorization": "Basic bnZyOndyb25n"})[0] == 401
    assert time.time() - began >= 0.9  # nvr:wrong, answered after the delay
    assert client.request("OPTIONS", headers={"Authorization": "Basic bnZyOm52ci1QYTU1"})[0] \
        == 200  # nvr:nvr-Pa55
    run = ffmpeg(fw.rtsp.replace("//", "//nvr:nvr-Pa55@"), "tcp", frames=10)  # Digest
    assert run.returncode == 0 and not run.stderr.strip(), run.stderr
    run = ffmpeg(fw.rtsp.replace("//", "//nvr:wrong@"), "tcp", frames=10)
    assert run.returncode != 0 and b"401" in run.stderr
    assert "nvr-Pa55" not in fw.console()


def fds(fw):
    return len(os.listdir("/proc/%d/fd" % fw.proc.pid))


def test_bad_input_gets_its_answer_and_leaves_nothing_behind(start):
    fw = rtsp_camera(start, rtsp={"session_s": 5})
    time.sleep(1)
    files = fds(fw)
    viewer = Counter("127.0.0.1", fw.port)  # an MJPEG viewer all along
    assert wait_for(lambda: viewer.frames, 10)
    frames, captures = viewer.frames, fw.status()["captures"]

    def bad_requests():
        answers = {}
        for name, data in (("garbage", b"\x16\x03\x01 hello\r\n\r\n"),
                           ("no CSeq", b"OPTIONS * RTSP/1.0\r\n\r\n"),
                           ("a line too long", b"OPTIONS /" + b"a" * 5000 + b" RTSP/1.0\r\n\r\n")):
            client = Client(fw.rtsp_port)
            client.send(data)
            answers[name] = client.response()[0]
            assert name == "no CSeq" or client.closed(), name  # that one may go on
            client.close()
        assert answers == {"garbage": 400, "no CSeq": 400, "a line too long": 431}, answers
        client = Client(fw.rtsp_port)
        assert client.request("SETUP", client.url + "/track0",
                              {"Transport": "RTP/SAVP;unicast;client_port=1-2"})[0] == 461
        assert client.request("SETUP", client.url + "/track0",
                              {"Transport": "RTP/AVP;unicast;client_port=x-y"})[0] == 461
        assert client.request("PLAY", headers={"Session": "DEADBEEF"})[0] == 454
        assert client.request("RECORD")[0] == 501
        assert client.request("DESCRIBE", "rtsp://127.0.0.1/elsewhere")[0] == 404
        status, headers, body = client.request("DESCRIBE")
        assert status == 200 and b"m=video 0 RTP/AVP 26" in body and headers["content-base"]
        client.close()

    def setups(count, linger=False):
        """SETUPs, each on a connection that goes: a TCP session ends with it, a UDP one at
        its TEARDOWN (or, `linger`ing, when it expires); then none is left. The sessions
        made."""
        made = 0
        for n in range(count):
            many = Client(fw.rtsp_port)
            transport = "RTP/AVP/TCP;unicast;interleaved=0-1" if n % 2 else \
                "RTP/AVP;unicast;client_port=%d-%d" % (40000 + n, 40001 + n)
            status = many.request("SETUP", many.url + "/track0", {"Transport": transport})[0]
            assert status in (200, 453), status  # 453: at the viewers' cap, the last not yet ended
            if status == 200:
                made += 1
                if not n % 2 and not linger:
                    assert many.request("TEARDOWN",
                                        headers={"Session": many.last_session})[0] == 200
            many.close()
        assert wait_for(lambda: rtsp_status(fw)["sessions"] == 0 and
                        rtsp_status(fw)["connections"] == 0, 20), rtsp_status(fw)
        return made

    bad_requests()
    silent = Client(fw.rtsp_port)  # says nothing: closed at the request deadline
    assert silent.closed(timeout=15)
    lingering = Client(fw.rtsp_port)  # SETUP, never PLAY: the session expires
    assert lingering.request("SETUP", lingering.url + "/track0", {
        "Transport": "RTP/AVP/TCP;unicast;interleaved=0-1"})[0] == 200
    assert rtsp_status(fw)["sessions"] == 1
    assert lingering.closed(timeout=15)
    assert setups(200, linger=True) < 200  # lingering UDP sessions hold the viewers' cap
    # the first of each kind may leave something for good (what a first use allocates);
    # twenty more rounds of bad requests and 2,000 SETUPs must not: 16 bytes kept a SETUP
    # would be 32 KB, a long line's buffer kept each time 100 KB
    settled = fw.status()["heap_used"]
    for _ in range(20):
        bad_requests()
    assert setups(2000) >= 1500  # each ended before the next: few find the cap reached
    assert fw.status()["heap_used"] - settled < 8192, fw.status()["heap_used"] - settled
    frames, captures = viewer.frames - frames, fw.status()["captures"] - captures
    assert frames >= 0.8 * captures and not viewer.error, (frames, captures, viewer.error)
    viewer.stop.set()
    viewer.join(10)
    assert wait_for(lambda: fds(fw) <= files, 10), (fds(fw), files)
    assert wait_for(lambda: fw.get("/snapshot.jpg")[0] == 200, 5)


def test_a_grayscale_sensor_gets_a_clear_answer(start):
    fw = rtsp_camera(start, env={"SIM_SENSOR": "mono"})
    client = Client(fw.rtsp_port)
    status, _, body = client.request("DESCRIBE")
    assert status == 415 and b"grayscale" in body, (status, body)
    assert fw.console().count("rtsp: frames not sent: a grayscale JPEG") == 1
    assert fw.get("/snapshot.jpg")[0] == 200  # MJPEG serves it still


def test_the_camera_asks_the_encoder_for_4_2_0(start):
    fw = start(settings={"camera": {"quality": 85}})  # left to itself, OpenMV picks 4:4:4
    jpeg = fw.get("/snapshot.jpg")[2]
    sof = jpeg.index(b"\xff\xc0")
    assert jpeg[sof + 11] == 0x22, hex(jpeg[sof + 11])  # the first component's: 2x2


class Namespace:
    """A network namespace of this test's own, with multicast on its loopback: the calling
    thread enters it, so the firmware and the players started from it live there too, and
    nothing leaves the machine."""

    def __init__(self):
        self.holder = subprocess.Popen(
            ["unshare", "--net", "sh", "-c", "ip link set lo up && ip link set lo multicast on "
             "&& ip route add 224.0.0.0/4 dev lo && echo ready && exec cat >/dev/null"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert self.holder.stdout.readline() == b"ready\n", self.holder.stderr.read()
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.home = os.open("/proc/self/task/%d/ns/net" % threading.get_native_id(),
                            os.O_RDONLY)
        self._enter("/proc/%d/ns/net" % self.holder.pid)

    def _enter(self, path):
        fd = os.open(path, os.O_RDONLY) if isinstance(path, str) else path
        try:
            assert self.libc.setns(fd, 0x40000000) == 0, ctypes.get_errno()
        finally:
            if isinstance(path, str):
                os.close(fd)

    def close(self):
        self._enter(self.home)
        os.close(self.home)
        self.holder.stdin.close()
        self.holder.wait(10)


@pytest.mark.skipif(os.geteuid() != 0, reason="a network namespace of its own needs root")
def test_multicast_viewers_get_each_packet_sent_once(start):
    net = Namespace()
    try:
        fw = rtsp_camera(start, rtsp={"multicast": "239.255.42.42"})
        results = []
        players = [threading.Thread(target=lambda: results.append(
            ffmpeg(fw.rtsp, "udp_multicast", frames=150))) for _ in range(2)]
        for player in players:
            player.start()
        assert wait_for(lambda: rtsp_status(fw)["playing"]["multicast"] == 2, 10)
        status = rtsp_status(fw)
        for player in players:
            player.join(TIMEOUT)
        for run in results:  # a viewer joining the group mid-frame drops that part frame
            warnings = re.sub(rb".*(without a start chunk|Last message repeated).*\n?", b"",
                              run.stderr)
            assert run.returncode == 0 and not warnings.strip(), run.stderr
        status = rtsp_status(fw)
        assert len(results) == 2 and status["udp_dropped"] == 0, status
        assert status["udp_sent"] <= status["packets"], status  # once, for both viewers
    finally:
        net.close()
