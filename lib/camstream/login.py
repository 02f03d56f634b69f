"""HTTP Basic login: credentials compared in constant time, wrong ones answered slowly."""
import asyncio
import binascii

FAILURE_DELAY_MS = 1000  # per wrong try, in that connection only: guessing costs a second each


def basic_auth(user, password):
    """The Authorization header value that `user` and `password` send."""
    return "Basic " + binascii.b2a_base64(("%s:%s" % (user, password)).encode()).decode().strip()


def same(given, expected):
    """True if the two byte strings are equal, taking as long whatever bytes differ."""
    diff = len(given) != len(expected)
    if diff:
        given = expected
    for a, b in zip(given, expected):
        diff |= a ^ b
    return not diff


class Login:
    """The one user allowed in. Passwords are never logged."""

    def __init__(self, user, password):
        self.expected = basic_auth(user, password).encode()
        self.failures = 0

    async def allows(self, header):
        """True for the right Authorization header; a wrong one waits, then is refused."""
        if header is None:
            return False  # a browser's first request, before it asks the user
        if same(header.encode(), self.expected):
            return True
        self.failures += 1
        await asyncio.sleep_ms(FAILURE_DELAY_MS)
        return False
