"""Accounts: Digest and Basic logins from real clients (curl, httpx as Home Assistant uses it,
ffmpeg, Chromium), refusals of wrong, replayed and tampered logins, viewer and admin roles,
hashed passwords, a locked camera, and a crowd logging in at once."""
import base64
import hashlib
import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from firmware import ROOT, wait_for

sys.path.insert(0, os.path.join(ROOT, "tools"))
import deploy_http  # noqa: E402
import password  # noqa: E402

ADMIN, VIEWER = ("admin", "adm1n-Pa55"), ("tv", "v1ewer-Pa55")
USERS = [{"user": ADMIN[0], "password": ADMIN[1], "role": "admin"},
         {"user": VIEWER[0], "password": VIEWER[1], "role": "viewer"}]
SECRETS = ("adm1n", "v1ewer", "Pa55")


def with_accounts(start, users=USERS, auth=None, **more):
    return start(settings=dict({"users": users, "auth": auth or {}}, **more.pop("settings", {})),
                 **more)


def offers(fw, path="/snapshot.jpg"):
    """The 401's challenges: [(scheme, {field: value})]."""
    answer = httpx.get(fw.url + path, timeout=10)
    assert answer.status_code == 401
    return [(h.split(" ", 1)[0], dict(re.findall(r'(\w+)="?([^",]*)"?', h)))
            for h in answer.headers.get_list("www-authenticate")]


def digest(user, secret, method, uri, challenge, algorithm="SHA-256", qop=True, nc=1):
    """An Authorization header as a Digest client makes it (RFC 7616, or RFC 2069 without qop)."""
    h = (lambda s: hashlib.new(algorithm.replace("-", "").lower(), s.encode()).hexdigest())
    ha1, ha2 = h("%s:%s:%s" % (user, challenge["realm"], secret)), h("%s:%s" % (method, uri))
    fields = {"username": user, "realm": challenge["realm"], "nonce": challenge["nonce"],
              "uri": uri, "algorithm": algorithm}
    if qop:
        fields.update(qop="auth", nc="%08x" % nc, cnonce="0a4f113b")
        fields["response"] = h("%s:%s:%s:%s:auth:%s" % (ha1, challenge["nonce"], fields["nc"],
                                                        fields["cnonce"], ha2))
    else:
        fields["response"] = h("%s:%s:%s" % (ha1, challenge["nonce"], ha2))
    return "Digest " + ", ".join('%s="%s"' % kv if kv[0] not in ("qop", "nc", "algorithm")
                                 else "%s=%s" % kv for kv in fields.items())


def sha256_challenge(fw):
    return next(f for scheme, f in offers(fw) if f.get("algorithm") == "SHA-256")


def get(fw, path, header, timeout=10):
    return httpx.get(fw.url + path, headers={"Authorization": header}, timeout=timeout)


def parts(answer, wanted):
    """Read a streaming answer until `wanted` JPEG parts have arrived: how many did."""
    seen, data = 0, b""
    for chunk in answer.iter_bytes():
        data = data[-64:] + chunk
        seen = seen + chunk.count(b"Content-Type: image/jpeg")
        if seen >= wanted:
            break
    return min(seen, wanted)


def basic(user, secret):
    return "Basic " + base64.b64encode(("%s:%s" % (user, secret)).encode()).decode()


def test_curl_and_httpx_log_in_with_digest_and_stream(start):
    fw = with_accounts(start)
    schemes = [(s, f.get("algorithm")) for s, f in offers(fw)]
    assert schemes == [("Digest", "SHA-256"), ("Digest", "MD5"), ("Basic", None)], schemes
    for algorithm in ("SHA-256", "MD5"):  # curl answers the challenge it is given
        run = subprocess.run(["curl", "-sS", "--digest", "-u", "%s:%s" % ADMIN, "-o", "-",
                              "-w", "%{http_code}", fw.url + "/snapshot.jpg"],
                             capture_output=True, timeout=30)
        assert run.stdout[:2] == b"\xff\xd8" and run.stdout.endswith(b"200"), run.stderr
    run = subprocess.run(["curl", "-sS", "--digest", "-u", "%s:%s" % VIEWER, "--max-time", "3",
                          "-o", "-", fw.url + "/stream.jpg"], capture_output=True, timeout=30)
    assert run.stdout.count(b"Content-Type: image/jpeg") >= 3, run.stderr
    with httpx.Client(auth=httpx.DigestAuth(*VIEWER), timeout=10) as client:
        assert client.get(fw.url + "/status.json").json()["role"] == "viewer"
        with client.stream("GET", fw.url + "/stream.jpg") as answer:
            assert answer.status_code == 200 and parts(answer, 5) == 5
    console = fw.console()
    assert not any(secret in console for secret in SECRETS), console


def test_ffmpeg_and_chromium_log_in_with_digest_alone(start, browser):
    fw = with_accounts(start, auth={"basic": False})
    assert [s for s, _ in offers(fw)] == ["Digest", "Digest"]  # no Basic offered
    assert get(fw, "/snapshot.jpg", basic(*ADMIN)).status_code == 401  # nor taken
    run = subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "warning", "-i",
                          fw.url.replace("//", "//%s:%s@" % ADMIN) + "/stream.jpg",
                          "-frames:v", "10", "-f", "null", "-"], capture_output=True, timeout=60)
    assert run.returncode == 0 and not run.stderr.strip(), run.stderr.decode()
    camera = deploy_http.Camera("127.0.0.1:%d" % fw.port, ADMIN)  # make deploy HOST='s client
    assert camera.status()["role"] == "admin" and camera.challenge["algorithm"] == "SHA-256"
    browser.get(fw.url.replace("//", "//%s:%s@" % VIEWER) + "/snapshot.jpg")  # as the prompt
    browser.get(fw.url + "/")  # then the page, its own requests logged in as the prompt leaves them
    assert wait_for(lambda: browser.execute_script(
        "var i=document.getElementById('live');return i.complete&&i.naturalWidth>0"), 20)
    assert wait_for(lambda: "viewer" in browser.find_element("tag name", "body")
                    .get_attribute("class"), 10)  # the page shows a viewer no controls
    assert not browser.find_element("id", "controls").is_displayed()
    assert not browser.find_element("id", "save").is_displayed()


def test_wrong_replayed_and_tampered_logins_are_refused(start):
    fw = with_accounts(start, auth={"nonce_s": 10})
    challenge = sha256_challenge(fw)
    right = digest(*ADMIN, "GET", "/snapshot.jpg", challenge)
    assert get(fw, "/snapshot.jpg", right).status_code == 200
    assert get(fw, "/snapshot.jpg", digest(*ADMIN, "GET", "/snapshot.jpg", challenge,
                                            algorithm="MD5", qop=False)).status_code == 200
    refused = {
        "wrong user": digest("root", ADMIN[1], "GET", "/snapshot.jpg", challenge),
        "wrong password": digest(ADMIN[0], "guess", "GET", "/snapshot.jpg", challenge),
        "uri of another path": right,  # sent for /status.json below
        "tampered response": right.replace('response="', 'response="0'),
        "a nonce not made here": digest(*ADMIN, "GET", "/snapshot.jpg",
                                        dict(challenge, nonce="1-" + "0" * 32)),
    }
    for why, header in refused.items():
        path = "/status.json" if why == "uri of another path" else "/snapshot.jpg"
        began = time.time()
        answer = get(fw, path, header)
        assert answer.status_code == 401, why
        assert time.time() - began >= 0.9 or why == "a nonce not made here", why
    time.sleep(11)  # the nonce expires: a replay is answered stale, and a fresh nonce works
    answer = get(fw, "/snapshot.jpg", right)
    assert answer.status_code == 401 and "stale=true" in answer.headers["www-authenticate"]
    assert get(fw, "/snapshot.jpg", digest(*ADMIN, "GET", "/snapshot.jpg",
                                            sha256_challenge(fw))).status_code == 200
    assert get(fw, "/status.json", basic(*ADMIN)).json()["logins_refused"] >= 4
    console = fw.console()
    assert not any(secret in console for secret in SECRETS), console


def test_a_viewer_watches_and_only_an_admin_changes_the_camera(start):
    fw = with_accounts(start, heap="1M", settings={"record": {"pre_s": 0}})
    viewer = httpx.Client(auth=httpx.DigestAuth(*VIEWER), timeout=10)
    admin = httpx.Client(auth=httpx.DigestAuth(*ADMIN), timeout=10)
    for path in ("/", "/snapshot.jpg", "/status.json", "/clips.json", "/control"):
        assert viewer.get(fw.url + path).status_code == 200, path
    actions = [("POST", "/control", {"quality": 50}), ("POST", "/control", {"save": True}),
               ("POST", "/record", {"seconds": 2}), ("DELETE", "/clips/20260101-000000", None),
               ("POST", "/update", None)]
    for method, path, body in actions:
        answer = viewer.request(method, fw.url + path, json=body)
        assert answer.status_code == 403 and "admin account" in answer.text, (method, path)
    for method, path, body in actions:  # an admin may: each answered on its merits
        answer = admin.request(method, fw.url + path, json=body,
                               content=b"garbage" if path == "/update" else None)
        assert answer.status_code != 403 and answer.status_code != 401, (method, path,
                                                                           answer.text)


def test_hashed_passwords_work_for_both_schemes(start):
    entry = password.entry(VIEWER[0], VIEWER[1], "viewer", "camera")
    fw = with_accounts(start, users=[entry])
    assert get(fw, "/snapshot.jpg", basic(*VIEWER)).status_code == 200
    for algorithm in ("SHA-256", "MD5"):
        challenge = sha256_challenge(fw)
        assert get(fw, "/snapshot.jpg", digest(*VIEWER, "GET", "/snapshot.jpg", challenge,
                                                algorithm=algorithm)).status_code == 200
    assert get(fw, "/snapshot.jpg", basic(VIEWER[0], "wrong")).status_code == 401
    console = fw.console()
    assert entry["hash"]["sha256"] not in console and "v1ewer" not in console


def test_a_malformed_account_keeps_the_camera_locked(start):
    fw = with_accounts(start, users=USERS + [{"user": "x", "password": "p"}])  # no role
    assert fw.console().count("settings: users must be") == 1
    assert "stays locked" in fw.console() and "adm1n" not in fw.console()
    for header in (None, basic(*ADMIN), basic(*VIEWER)):
        answer = httpx.get(fw.url + "/", headers={"Authorization": header} if header else {},
                           timeout=10)
        assert answer.status_code == 401
    realm = with_accounts(start, users=[password.entry("tv", "x", "viewer", "elsewhere")])
    assert "hash is for realm elsewhere, not camera" in realm.console()
    assert get(realm, "/snapshot.jpg", basic("tv", "x")).status_code == 401


def test_fifty_viewers_log_in_with_digest_at_once_and_leave_no_heap(start):
    fw = with_accounts(start, heap="2M", settings={"viewers": {"max": 60}})
    status = httpx.Client(auth=httpx.DigestAuth(*ADMIN), timeout=20)
    time.sleep(1)
    before = status.get(fw.url + "/status.json").json()["heap_used"]

    def watch(_):
        with httpx.Client(auth=httpx.DigestAuth(*VIEWER), timeout=30) as client:
            with client.stream("GET", fw.url + "/stream.jpg") as answer:
                return parts(answer, 3)

    with ThreadPoolExecutor(50) as pool:
        assert list(pool.map(watch, range(50))) == [3] * 50
    assert wait_for(lambda: status.get(fw.url + "/status.json").json()["viewers"] == 0, 20)
    after = status.get(fw.url + "/status.json").json()
    assert after["heap_used"] - before < 4096, (before, after["heap_used"])
    assert after["logins_refused"] == 0
