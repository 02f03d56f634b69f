"""The settings reference, made from the schema (lib/camstream/settings.py): each setting's
name and default from SCHEMA, what it allows in the words of its own check (as the console
says them for a bad value), and its meaning from the comment on its entry. It is written
into docs/settings.md between the table's markers.

Usage: python tools/settings_table.py [--check]   (--check: exit 1 if the page differs)
"""
import ast
import io
import json
import os
import sys
import tokenize

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "lib"))
from camstream import options, settings  # noqa: E402

PAGE = os.path.join(ROOT, "docs", "settings.md")
BEGIN, END = "<!-- settings table -->", "<!-- end of settings table -->"


def meanings(module, name):
    """{key: meaning} of the dict literal `name` in `module`'s source: the comment on each
    entry's line, and the comment lines under it."""
    with open(module.__file__) as f:
        source = f.read()
    tree = ast.parse(source)
    literal = next(node.value for node in ast.walk(tree) if isinstance(node, ast.Assign)
                   and getattr(node.targets[0], "id", None) == name)
    comments = {}  # line: (text, alone on its line)
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            alone = not token.line[:token.start[1]].strip()
            comments[token.start[0]] = (token.string.lstrip("# ").strip(), alone)
    found = {}
    for key in literal.keys:
        line = key.lineno
        words = []
        if line in comments:
            words.append(comments[line][0])
            line += 1
            while line in comments and comments[line][1]:
                words.append(comments[line][0])
                line += 1
        found[key.value] = " ".join(words)
    return found


class Wrong:
    """A value no check accepts: each answers with what it allows."""


def cell(text):
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def table():
    meaning = meanings(settings, "SCHEMA")
    meaning.update({"camera." + k: v for k, v in meanings(options, "PICTURE").items()})
    rows = ["| setting | default | allowed | meaning |", "| --- | --- | --- | --- |"]
    for name, (default, check) in settings.SCHEMA.items():
        if not meaning.get(name):
            raise SystemExit("settings_table: %s has no meaning: comment its schema entry" % name)
        rows.append("| `%s` | `%s` | %s | %s |" % (name, json.dumps(default), cell(check(Wrong())),
                                                  cell(meaning[name])))
    return "\n".join(rows)


def page_with(text, page):
    start, end = page.index(BEGIN) + len(BEGIN), page.index(END)
    return page[:start] + "\n" + text + "\n" + page[end:]


def main(argv):
    with open(PAGE) as f:
        page = f.read()
    wanted = page_with(table(), page)
    if "--check" in argv:
        if wanted != page:
            raise SystemExit("docs/settings.md differs from the schema: run make docs")
        return
    with open(PAGE, "w") as f:
        f.write(wanted)
    print("settings_table: %d settings written to docs/settings.md" % len(settings.SCHEMA))


if __name__ == "__main__":
    main(sys.argv)
