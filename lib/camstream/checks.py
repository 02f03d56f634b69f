"""Value checks shared by settings.json and /control: each returns None for a good value,
else what is allowed, in words."""


def whole(lo, hi):
    def check(v):
        if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
            return "a whole number from %d to %d" % (lo, hi)
    return check


def one_of(options):
    def check(v):
        if v not in options:
            return "one of " + ", ".join(options)
    return check


def text(lo, hi):
    def check(v):
        if not isinstance(v, str) or not lo <= len(v) <= hi:
            return "text of %d to %d characters" % (lo, hi)
    return check


def flag(v):
    if not isinstance(v, bool):
        return "true or false"
