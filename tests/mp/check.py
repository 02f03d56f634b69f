"""A minimal test reporter for the scripts that run inside MicroPython."""
results = []


def check(name, ok):
    results.append(bool(ok))
    print(("ok   " if ok else "FAIL ") + name)


def report():
    failed = results.count(False)
    print("%d passed, %d failed" % (len(results) - failed, failed))
