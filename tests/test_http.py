"""Snapshot, page, HEAD and errors, over real sockets and with curl."""
import socket
import subprocess
import tempfile
import time

from firmware import seq_of, wait_for


def curl(url, *args):
    """(status, headers dict, body) from the curl command line client."""
    with tempfile.NamedTemporaryFile() as body:
        head = subprocess.run(["curl", "-s", "-S", "-D", "-", "-o", body.name, "--max-time", "10",
                               *args, url], capture_output=True, check=True).stdout
        lines = head.decode().strip().split("\r\n")
        headers = dict(line.split(": ", 1) for line in lines[1:])
        return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body.read()


def test_snapshot_before_and_after_the_first_frame(start):
    fw = start(env={"SIM_FIRST_FRAME_S": "3"})
    began = time.time()
    status, headers, body = curl(fw.url + "/snapshot.jpg")
    assert time.time() - began < 1, "a snapshot never waits for the sensor"
    assert status == 503
    assert headers["retry-after"] == "1"
    assert body.strip() == b"No frame yet"
    assert wait_for(lambda: fw.status()["captures"] > 0, timeout=10)
    status, headers, jpeg = curl(fw.url + "/snapshot.jpg")
    assert status == 200
    assert headers["content-type"] == "image/jpeg"
    assert headers["cache-control"] == "no-store"
    assert int(headers["content-length"]) == len(jpeg)
    assert float(headers["x-timestamp"]) > 1e9
    assert float(headers["x-frame-age"]) < 1
    assert jpeg[:2] == b"\xff\xd8" and jpeg[-2:] == b"\xff\xd9" and seq_of(jpeg) >= 1


def test_snapshot_never_triggers_a_capture(start):
    fw = start(env={"SIM_FPS": "2"})
    wait_for(lambda: fw.status()["captures"] > 0)
    before = fw.status()["captures"]
    for _ in range(10):
        assert fw.get("/snapshot.jpg")[0] == 200
    assert fw.status()["captures"] - before <= 2


def test_index_page_shows_the_stream(start):
    fw = start()
    status, headers, body = fw.get("/")
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert b'src="/stream.jpg"' in body and b'href="/snapshot.jpg"' in body


def test_head_answers_headers_only_and_leaves_no_viewer(start):
    fw = start()
    for path, kind in (("/stream.jpg", "multipart/x-mixed-replace"), ("/snapshot.jpg", "image/jpeg"),
                       ("/", "text/html")):
        status, headers, _ = curl(fw.url + path, "-I")
        assert status == 200 and headers["content-type"].startswith(kind)
        with socket.create_connection(("127.0.0.1", fw.port), timeout=10) as s:
            s.sendall(b"HEAD %s HTTP/1.1\r\nHost: camera\r\n\r\n" % path.encode())
            answer = b""
            while True:
                data = s.recv(65536)
                if not data:
                    break
                answer += data
        assert answer.endswith(b"\r\n\r\n") and answer.count(b"\r\n\r\n") == 1, answer
    assert wait_for(lambda: fw.status()["viewers"] == 0)


def test_unknown_path_and_wrong_method(start):
    fw = start()
    assert curl(fw.url + "/nothing")[0] == 404
    status, headers, _ = curl(fw.url + "/snapshot.jpg", "-X", "POST")
    assert status == 405 and "GET" in headers["allow"]
    assert curl(fw.url + "/stream.jpg", "-X", "DELETE")[0] == 405
