"""The firmware's layout: the core in camstream/, one package per optional feature, and
imports that run one way (no cycle, lazy imports inside functions included; the core never
imports a feature: only the app plugs them in)."""
import glob
import os
import re

import pytest

from firmware import ROOT, rtsp_settings

PACKAGE = os.path.join(ROOT, "lib", "camstream")
FEATURES = ("accounts", "mqtt", "record", "rtsp", "update")
IMPORT = re.compile(r"^\s*from (\.+)([\w.]*) import ([\w, ]+)", re.M)
PLUG = re.compile(r"\bplug\(\"(\w+)\"\)")


def module_of(path):
    """camstream/record/avi.py -> "record.avi"; a package's __init__.py -> its name."""
    rel = os.path.relpath(path, PACKAGE)[:-3].replace(os.sep, ".")
    return rel[:-len(".__init__")] if rel.endswith(".__init__") else rel


def known(name):
    base = os.path.join(PACKAGE, *name.split("."))
    return os.path.exists(base + ".py") or os.path.exists(os.path.join(base, "__init__.py"))


def imports():
    """Each module ("hub", "record.recorder"): the package's modules it imports."""
    graph = {}
    for path in glob.glob(os.path.join(PACKAGE, "**", "*.py"), recursive=True):
        name = module_of(path)
        package = name.split(".")[:-1] if not path.endswith("__init__.py") else name.split(".")
        with open(path) as f:
            source = f.read()
        graph[name] = set("%s" % feature for feature in PLUG.findall(source))
        for dots, module, names in IMPORT.findall(source):
            base = package[:len(package) - (len(dots) - 1)] if len(dots) > 1 else package
            prefix = ".".join(base + ([module] if module else []))
            for target in [prefix] if module else [
                    ".".join(filter(None, (prefix, n.strip()))) for n in names.split(",")]:
                if known(target):
                    graph[name].add(target)
    return graph


def feature_of(name):
    top = name.split(".")[0]
    return top if top in FEATURES else None


def test_no_module_imports_one_that_imports_it_back():
    graph = imports()
    assert "record.recorder" in graph["record.clips"] and "paced" in graph["record.avi"]
    assert "web" not in graph["controls"] and "controls" not in graph["settings"]
    done = set()

    def visit(name, path):
        assert name not in path, "import cycle: " + " -> ".join(path + [name])
        if name in done:
            return
        for other in graph.get(name, ()):
            visit(other, path + [name])
        done.add(name)

    for name in graph:
        visit(name, [])


def test_the_core_never_imports_a_feature_and_features_not_each_other():
    graph = imports()
    assert set(FEATURES) <= graph["app"]  # plugged in by name
    for name, targets in graph.items():
        for target in targets:
            feature = feature_of(target)
            if feature and feature != feature_of(name):
                assert name == "app", "%s imports the %s feature (%s): only the app plugs " \
                    "features in" % (name, feature, target)


def test_the_tree_shows_the_core_and_one_folder_per_feature():
    folders = sorted(e for e in os.listdir(PACKAGE) if os.path.isdir(os.path.join(PACKAGE, e))
                     and e != "__pycache__")
    assert folders == sorted(FEATURES)
    for feature in FEATURES:
        with open(os.path.join(PACKAGE, feature, "__init__.py")) as f:
            assert re.search(r"^from \.\w+ import \w+ as plug", f.read(), re.M), feature


LOADED_START = os.path.join(ROOT, "tests", "mp", "loaded_start.py")


def loaded(fw):
    """The modules in memory once the camera has served a while (tests/mp/loaded_start.py)."""
    from firmware import wait_for
    assert wait_for(lambda: "loaded: " in fw.console(), 20), fw.console()
    return set(fw.console().split("loaded: ", 1)[1].split("\n", 1)[0].split())


@pytest.mark.parametrize("settings, plugged", [
    ({}, ()), ({"record": {"pre_s": 0}}, ("record",)),
    ({"login": {"user": "admin", "password": "secret"}}, ("accounts", "update")),
    ({"users": [{"user": "tv", "password": "secret", "role": "viewer"}]}, ("accounts",)),
    ({"mqtt": {"host": "127.0.0.1", "port": 9}}, ("mqtt",)),
    ({"rtsp": rtsp_settings()}, ("rtsp",))])  # no broker there: still plugged
def test_a_feature_is_loaded_only_when_settings_ask_for_it(start, settings, plugged):
    fw = start(settings=settings, script=LOADED_START, heap="1M")
    modules = loaded(fw)
    assert "camstream.hub" in modules and "camstream.web" in modules
    for feature in FEATURES:
        inside = {m for m in modules if m.startswith("camstream.%s" % feature)}
        assert bool(inside) == (feature in plugged), (feature, sorted(modules))
