"""`make password USER=name [ROLE=viewer]`: an account for settings.json's `users` whose
password is kept as hashes, not as itself: the Digest HA1 for the camera's realm (SHA-256
and MD5) and a salted SHA-256 for Basic. Asks for the password twice and prints the entry.

The realm is settings.json's `auth.realm` (default "camera"): a hash works for that realm
only. A Digest HA1 lets whoever reads it log in to this camera (not learn the password):
keep settings.json as private as before.

Usage: python tools/password.py USER [ROLE] [SETTINGS]
"""
import getpass
import hashlib
import json
import os
import secrets
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_REALM = "camera"


def entry(user, password, role="admin", realm=DEFAULT_REALM):
    """The users entry for `user` with `password` kept as hashes."""
    ha1 = "%s:%s:%s" % (user, realm, password)
    salt = secrets.token_hex(8)
    return {"user": user, "role": role, "hash": {
        "realm": realm,
        "sha256": hashlib.sha256(ha1.encode()).hexdigest(),
        "md5": hashlib.md5(ha1.encode()).hexdigest(),
        "basic": salt + "$" + hashlib.sha256((salt + password).encode()).hexdigest()}}


def realm_of(path):
    try:
        with open(path) as f:
            return (json.load(f).get("auth") or {}).get("realm") or DEFAULT_REALM
    except (OSError, ValueError, AttributeError):
        return DEFAULT_REALM


def main(argv):
    if len(argv) < 2 or not argv[1]:
        raise SystemExit("password: name the account: make password USER=name [ROLE=viewer]")
    role = argv[2] if len(argv) > 2 and argv[2] else "admin"
    if role not in ("admin", "viewer"):
        raise SystemExit("password: ROLE is admin or viewer, not %r" % role)
    realm = realm_of(argv[3] if len(argv) > 3 else os.path.join(ROOT, "settings.json"))
    password = getpass.getpass("password for %s: " % argv[1])
    if not 1 <= len(password) <= 64:
        raise SystemExit("password: 1 to 64 characters")
    if getpass.getpass("again: ") != password:
        raise SystemExit("password: the two differ; nothing written")
    print("add this to settings.json's \"users\" list (realm %r):" % realm, file=sys.stderr)
    print(json.dumps(entry(argv[1], password, role, realm)))


if __name__ == "__main__":
    main(sys.argv)
