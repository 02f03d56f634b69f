"""The settings.json of `make run`: the file given (or none), with the port given.

Usage: python tools/run_settings.py [SETTINGS_FILE] PORT
"""
import json
import sys


def main(path, port):
    cfg = {}
    if path:
        try:
            with open(path) as f:
                cfg = json.load(f)
        except (OSError, ValueError) as exc:
            sys.exit("make run: cannot read SETTINGS=%s: %s" % (path, exc))
        if not isinstance(cfg, dict):
            sys.exit("make run: SETTINGS=%s must hold a JSON object" % path)
    cfg["port"] = int(port)
    json.dump(cfg, sys.stdout, indent=1)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
