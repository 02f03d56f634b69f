"""`make deploy HOST=<name or address>[:port]`: send the flash image to a running camera over
the network (POST /update), then follow it through its reset and its trial boot.

Usage: python tools/deploy_http.py HOST[:PORT] [IMAGE_DIR]

The login is $CAMERA_LOGIN (user:password), else settings.json's (`login`, or the first admin
in `users` with a password: the image's copy of it), else asked for; it is sent by Digest when
the camera offers it, else by Basic. Exits 0 once
the camera runs the new build, 1 when it refused the image or went back to the old one
(with why), 2 when it cannot be reached or the login is wrong or missing.
"""
import base64
import getpass
import hashlib
import http.client
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from build_id import image_files  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGE = os.path.join(ROOT, "build", "image")
PIECE = 4096
BACK_WITHIN_S = 60  # for the camera to serve again after its reset
TRIAL_WITHIN_S = 150  # for its trial to end: confirmed, or two failed starts and a rollback


class Camera:
    """The camera's HTTP API, logged in by Digest when the camera offers it (SHA-256, else
    MD5), else by Basic."""

    def __init__(self, where, login):
        host, _, port = where.partition(":")
        self.host, self.port = host, int(port or 80)
        self.login = login
        self.challenge = None  # the Digest challenge answered, once asked for
        self.count = 0

    def authorization(self, method, path):
        if not self.login:
            return {}
        if self.challenge is None:
            self.challenge = self._challenge()
        if not self.challenge:
            token = base64.b64encode(("%s:%s" % self.login).encode()).decode()
            return {"Authorization": "Basic " + token}
        self.count += 1
        return {"Authorization": digest(self.login, method, path, self.challenge, self.count)}

    def _challenge(self):
        """The first Digest challenge this tool can answer, or {} (Basic, or no login)."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            conn.request("GET", "/status.json")
            res = conn.getresponse()
            res.read()
            offers = res.msg.get_all("WWW-Authenticate") or []
        finally:
            conn.close()
        for offer in offers:
            scheme, _, rest = offer.partition(" ")
            found = dict(re.findall(r'(\w+)="?([^",]*)"?', rest))
            if scheme.lower() == "digest" and found.get("algorithm", "MD5") in HASHES:
                return found
        return {}

    def request(self, method, path, body=b"", headers=None, timeout=10):
        """(status, text) of one request; OSError when the camera cannot be reached."""
        for _ in range(2):  # once more with a fresh nonce when the camera says it is stale
            conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
            try:
                conn.request(method, path, body, dict(self.authorization(method, path),
                                                      **(headers or {})))
                res = conn.getresponse()
                answer = res.status, res.read().decode(errors="replace")
                stale = "stale=true" in (res.getheader("WWW-Authenticate") or "")
            finally:
                conn.close()
            if not (answer[0] == 401 and stale):
                return answer
            self.challenge = None
        return answer

    def status(self):
        code, text = self.request("GET", "/status.json")
        return json.loads(text) if code == 200 else None

    def upload(self, image, files, total):
        """Stream the image with a progress line; (status, text) of the answer."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        conn.putrequest("POST", "/update")
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(total)}
        for name, value in dict(self.authorization("POST", "/update"), **headers).items():
            conn.putheader(name, value)
        conn.endheaders()
        sent, began = 0, time.time()
        for piece in pieces(image, files):
            conn.send(piece)
            sent += len(piece)
            progress(sent, total, time.time() - began)
        print(flush=True)
        res = conn.getresponse()
        answer = res.status, res.read().decode(errors="replace")
        conn.close()
        return answer


HASHES = {"SHA-256": "sha256", "MD5": "md5"}


def digest(login, method, path, challenge, count):
    """A Digest Authorization header (RFC 7616, qop=auth) answering `challenge`."""
    name = challenge.get("algorithm", "MD5")
    h = (lambda text: hashlib.new(HASHES[name], text.encode()).hexdigest())
    user, password = login
    cnonce, nc = os.urandom(8).hex(), "%08x" % count
    ha1 = h("%s:%s:%s" % (user, challenge["realm"], password))
    response = h("%s:%s:%s:%s:auth:%s" % (ha1, challenge["nonce"], nc, cnonce,
                                          h("%s:%s" % (method, path))))
    return ('Digest username="%s", realm="%s", nonce="%s", uri="%s", algorithm=%s, qop=auth, '
            'nc=%s, cnonce="%s", response="%s"' % (user, challenge["realm"], challenge["nonce"],
                                                   path, name, nc, cnonce, response))


def head(image, files):
    with open(os.path.join(image, "BUILD")) as f:
        build = f.read().strip()
    lines = ["camstream-image 1", "build " + build]
    lines += ["file %d %s" % (os.path.getsize(os.path.join(image, rel)), rel) for rel in files]
    return build, ("\n".join(lines + ["end"]) + "\n").encode()


def pieces(image, files):
    yield head(image, files)[1]
    for rel in files:
        with open(os.path.join(image, rel), "rb") as f:
            while True:
                piece = f.read(PIECE)
                if not piece:
                    break
                yield piece


def progress(sent, total, seconds):
    width = 30
    done = width * sent // total
    rate = sent / seconds / 1024 if seconds > 0 else 0
    sys.stdout.write("\rupload: [%s%s] %d of %d bytes (%d%%), %.0f KB/s" % (
        "#" * done, " " * (width - done), sent, total, 100 * sent // total, rate))
    sys.stdout.flush()


def login_of(settings_path):
    if os.getenv("CAMERA_LOGIN"):
        user, _, password = os.environ["CAMERA_LOGIN"].partition(":")
        return user, password
    try:
        with open(settings_path) as f:
            settings = json.load(f)
        admins = [settings.get("login") or {}] + [u for u in settings.get("users") or []
                                                   if u.get("role") == "admin"]
        for login in admins:
            if login.get("user") and login.get("password"):
                return login["user"], login["password"]
    except (OSError, ValueError, AttributeError):
        pass
    if not sys.stdin.isatty():
        return None
    user = input("camera login user: ")
    return user, getpass.getpass("camera login password: ")


def follow(camera, old, new):
    """Wait for the camera to come back and finish its trial: the exit status."""
    time.sleep(1)
    deadline = time.time() + BACK_WITHIN_S + TRIAL_WITHIN_S
    said = None
    while time.time() < deadline:
        try:
            status = camera.status()
        except (OSError, ValueError):
            status = None
        update = (status or {}).get("update") or {}
        rollback = update.get("last_rollback") or {}
        if status and status["build"] == new and not update.get("on_trial"):
            print("camera: running build %s (slot %s)" % (new, update.get("slot")))
            return 0
        if status and status["build"] != new and rollback.get("build") == new:
            print("camera: rolled back to build %s: build %s %s" % (
                status["build"], new, rollback.get("reason")))
            return 1
        if status and status["build"] == new and said != "trial":
            said = "trial"
            print("camera: build %s started, on trial until it has served a while ..." % new,
                  flush=True)
        time.sleep(1)
    print("camera: no answer within %d s of the reset (the console says why: make logs)"
          % (BACK_WITHIN_S + TRIAL_WITHIN_S))
    return 1


def main(argv):
    if len(argv) < 2:
        raise SystemExit(__doc__)
    image = argv[2] if len(argv) > 2 else IMAGE
    if not os.path.exists(os.path.join(image, "BUILD")):
        raise SystemExit("deploy: no image: run make image first")
    camera = Camera(argv[1], login_of(os.path.join(image, "settings.json")))
    try:
        code, text = camera.request("POST", "/update")  # no body: is an update allowed?
        status = camera.status() if code == 411 else None
    except OSError as exc:
        print("deploy: cannot reach the camera at %s:%d (%s)" % (camera.host, camera.port, exc))
        return 2
    if code in (401, 403):
        print("deploy: %s" % ("the camera refused the login (401): check login in "
                              "settings.json" if code == 401 else
                              "the camera has no login set (403), and takes no update without "
                              "one: set login in settings.json and deploy once over USB"))
        return 2
    if code != 411 or status is None:
        print("deploy: unexpected answer %d from the camera: %s" % (code, text.strip()))
        return 2
    files = list(image_files(image))
    new, first = head(image, files)
    total = len(first) + sum(os.path.getsize(os.path.join(image, rel)) for rel in files)
    print("deploy: build %s to %s:%d, which runs build %s" % (new, camera.host, camera.port,
                                                             status["build"]), flush=True)
    try:
        code, text = camera.upload(image, files, total)
    except OSError as exc:
        print("\ndeploy: the upload broke off (%s); the camera keeps build %s" % (
            exc, status["build"]))
        return 1
    if code != 200:
        print("deploy: refused (%d): %s; the camera keeps build %s" % (
            code, text.strip(), status["build"]))
        return 1
    print("deploy: written to slot %s; the camera restarts into it" % json.loads(text)["slot"],
          flush=True)
    return follow(camera, status["build"], new)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
