"""The firmware's modules import one way: no cycle, lazy imports inside functions included."""
import glob
import os
import re

from firmware import ROOT

PACKAGE = os.path.join(ROOT, "lib", "camstream")
IMPORT = re.compile(r"^\s*from \.(\w*) import ([\w, ]+)", re.M)


def imports():
    """Each module: the package's modules it imports."""
    graph = {}
    for path in glob.glob(os.path.join(PACKAGE, "*.py")):
        name = os.path.basename(path)[:-3]
        with open(path) as f:
            source = f.read()
        graph[name] = set()
        for module, names in IMPORT.findall(source):
            if module:
                graph[name].add(module)
            else:  # from . import a, b
                graph[name].update(n.strip() for n in names.split(",")
                                   if os.path.exists(os.path.join(PACKAGE, n.strip() + ".py")))
    return graph


def test_no_module_imports_one_that_imports_it_back():
    graph = imports()
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
