"""Run under MicroPython: credentials are compared in constant time."""
from camstream.accounts.guard import same
from check import check, report


class Counted:
    """Bytes that count how many of them a comparison reads."""

    def __init__(self, data):
        self.data = data
        self.read = 0

    def __len__(self):
        return len(self.data)

    def __iter__(self):
        for byte in self.data:
            self.read += 1
            yield byte


expected = b"Basic aGE6czNjcmV0"  # ha:s3cret
reads = []
for given in (b"X" + expected[1:], expected[:-1] + b"X", expected):
    counted = Counted(given)
    result = same(counted, expected)
    reads.append(counted.read)
    check("%r...: %s" % (given[:12], result), result == (given == expected))
check("every byte is compared, wherever the first difference is (%s)" % reads,
      reads == [len(expected)] * 3)
check("a wrong length is refused", not same(b"", expected) and not same(b"x" * 99, expected))
report()
