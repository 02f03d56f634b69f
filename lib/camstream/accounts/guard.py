"""Who may watch, and who may change the camera: logins checked against the accounts by HTTP
Digest (RFC 7616: qop=auth, SHA-256 and, where hashlib has it, MD5; also RFC 2069's form
without qop) or Basic.

Nonces need no table: each is the time it was made and a hash of it with a secret made at
start, so a crowd of viewers costs no heap. One past `auth.nonce_s` is answered with
`stale=true` and a fresh one, if the rest of the login was right. Comparisons take the same
time whatever differs; a wrong login is answered after FAILURE_DELAY_MS, in that connection
only. Passwords and hashes are never logged.
"""
import asyncio
import binascii
import hashlib
import os
import time

FAILURE_DELAY_MS = 1000  # per wrong try, in that connection only: guessing costs a second each
OFFERED = ("SHA-256", "MD5") if hasattr(hashlib, "md5") else ("SHA-256",)  # strongest first
ALGORITHMS = {"SHA-256": ("sha256", hashlib.sha256),  # the Digest name: (the hash's key, maker)
              "MD5": ("md5", getattr(hashlib, "md5", None))}


def hexdigest(algorithm, text):
    return binascii.hexlify(ALGORITHMS[algorithm][1](text.encode()).digest()).decode()


def same(given, expected):
    """True if the two byte strings are equal, taking as long whatever bytes differ."""
    diff = len(given) != len(expected)
    if diff:
        given = expected
    for a, b in zip(given, expected):
        diff |= a ^ b
    return not diff


def fields(text):
    """The name=value parameters of an Authorization header, values quoted or not."""
    found, at, end = {}, 0, len(text)
    while at < end:
        equals = text.find("=", at)
        if equals < 0:
            break
        name = text[at:equals].strip(" ,\t").lower()
        at = equals + 1
        if text[at:at + 1] == '"':
            close = text.find('"', at + 1)
            if close < 0:
                return {}
            value, at = text[at + 1:close], close + 1
        else:
            comma = text.find(",", at)
            comma = end if comma < 0 else comma
            value, at = text[at:comma].strip(), comma
        found[name] = value
        at = text.find(",", at) + 1 or end
    return found


class Guard:
    def __init__(self, accounts, realm, basic, nonce_s):
        self.accounts = {a["user"]: a for a in accounts}
        self.realm = realm
        self.basic = basic
        self.nonce_ms = nonce_s * 1000
        self.secret = binascii.hexlify(os.urandom(16)).decode()
        self.failures = 0

    def admins(self):
        return any(a["role"] == "admin" for a in self.accounts.values())

    async def admit(self, method, uri, header):
        """(role, None) for a right login; (None, the 401's headers) otherwise, a wrong one
        after FAILURE_DELAY_MS."""
        if header:
            scheme, _, rest = header.partition(" ")
            scheme = scheme.lower()
            role = self._digest(method, uri, fields(rest)) if scheme == "digest" else \
                self._basic(rest.strip()) if scheme == "basic" and self.basic else None
            if role == "stale":
                return None, self.challenge(stale=True)
            if role:
                return role, None
            self.failures += 1
            await asyncio.sleep_ms(FAILURE_DELAY_MS)
        return None, self.challenge()

    def challenge(self, stale=False):
        nonce = self._nonce("%x" % time.ticks_ms())
        offers = ['Digest realm="%s", qop="auth", algorithm=%s, nonce="%s"%s' % (
            self.realm, name, nonce, ", stale=true" if stale else "") for name in OFFERED]
        if self.basic:
            offers.append('Basic realm="%s", charset="UTF-8"' % self.realm)
        return {"WWW-Authenticate": offers}

    def _nonce(self, stamp):
        return stamp + "-" + hexdigest("SHA-256", self.secret + stamp)[:32]

    def _fresh(self, nonce):
        """True for a nonce made here and not yet expired."""
        stamp = nonce.partition("-")[0]
        try:
            issued = int(stamp, 16)
        except ValueError:
            return False
        return same(nonce.encode(), self._nonce(stamp).encode()) and \
            0 <= time.ticks_diff(time.ticks_ms(), issued) < self.nonce_ms

    def _ha1(self, account, algorithm):
        """H(user:realm:password), from the password or the hash kept in its stead."""
        if account is None:
            return hexdigest(algorithm, ":%s:" % self.realm)  # the same work for anyone
        if "password" in account:
            return hexdigest(algorithm, "%s:%s:%s" % (account["user"], self.realm,
                                                     account["password"]))
        return account["hash"].get(ALGORITHMS[algorithm][0], "")

    def _digest(self, method, uri, given):
        """The account's role, "stale" for a right answer to an old nonce, or None."""
        algorithm = given.get("algorithm", "MD5").upper()
        qop = given.get("qop")
        if algorithm not in OFFERED or given.get("realm") != self.realm or \
                given.get("uri") != uri or qop not in (None, "auth") or "response" not in given:
            return None
        account = self.accounts.get(given.get("username"))
        ha2 = hexdigest(algorithm, "%s:%s" % (method, uri))
        nonce = given.get("nonce", "")
        parts = (nonce, given.get("nc", ""), given.get("cnonce", ""), qop, ha2) if qop else \
            (nonce, ha2)
        expected = hexdigest(algorithm, ":".join((self._ha1(account, algorithm),) + parts))
        if not same(given["response"].lower().encode(), expected.encode()) or account is None:
            return None
        return account["role"] if self._fresh(nonce) else "stale"

    def _basic(self, token):
        try:
            user, _, password = binascii.a2b_base64(token).decode().partition(":")
        except (ValueError, UnicodeError):
            return None
        account = self.accounts.get(user)
        if account is None:
            same(password.encode(), password.encode())  # the same work for anyone
            return None
        if "password" in account:
            right = same(password.encode(), account["password"].encode())
        else:
            salt, _, digest = account["hash"]["basic"].partition("$")
            right = same(hexdigest("SHA-256", salt + password).encode(), digest.encode())
        return account["role"] if right else None
