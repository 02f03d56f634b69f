"""The documentation: a short README, links between the pages and to files that resolve, and
a settings reference that matches the settings schema."""
import glob
import os
import re
import subprocess
import sys

from firmware import ROOT

PAGES = [os.path.join(ROOT, "README.md")] + sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
CODE = re.compile(r"```.*?```|`[^`\n]*`", re.S)


def slug(heading):
    """The anchor GitHub gives a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


def anchors(path):
    with open(path) as f:
        return {slug(line.lstrip("#")) for line in f if line.startswith("#")}


def test_the_readme_is_read_in_five_minutes():
    with open(PAGES[0]) as f:
        lines = f.read().count("\n")
    assert lines <= 200, lines


def test_every_link_between_the_pages_and_to_files_resolves():
    checked, broken = 0, []
    for page in PAGES:
        with open(page) as f:
            text = CODE.sub("", f.read())
        for target in LINK.findall(text):
            if re.match(r"[a-z]+:", target):
                continue  # http:, mailto:
            path, _, anchor = target.partition("#")
            resolved = os.path.normpath(os.path.join(os.path.dirname(page), path)) if path \
                else page
            checked += 1
            if not os.path.exists(resolved):
                broken.append("%s: %s (no such file)" % (os.path.relpath(page, ROOT), target))
            elif anchor and resolved.endswith(".md") and anchor not in anchors(resolved):
                broken.append("%s: %s (no such heading)" % (os.path.relpath(page, ROOT), target))
    assert checked > 20 and not broken, broken


def test_every_page_is_linked_from_the_readme():
    with open(PAGES[0]) as f:
        readme = f.read()
    for page in PAGES[1:]:
        assert "docs/" + os.path.basename(page) in readme, page


def test_the_settings_reference_matches_the_schema():
    done = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "settings_table.py"),
                           "--check"], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
