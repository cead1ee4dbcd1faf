"""Print docs/architecture.md's module map: every module of core/, plugins/ and
leaderboard/ with the first line of its docstring, grouped by layer.

``--check`` exits non-zero when docs/architecture.md's map (between the
``<!-- module-map -->`` markers) differs from what this prints; a test runs it, so the
map cannot drift from the code. ``--write`` replaces the map in place.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "architecture.md"
BEGIN, END = "<!-- module-map -->", "<!-- /module-map -->"
FOLDERS = (("core", "lossybench"), ("plugins", "lossybench.plugins"),
           ("leaderboard", "lossybench.leaderboard"))
LAYERS = (
    ("cli", "CLI (`lossybench.cli`): one module per command; the only place typer and rich live"),
    ("api",
     "Python API (`lossybench.api`, `lossybench.transforms`): bring your own model and data"),
    ("engine", "Engine (`lossybench.engine`): runs, sweeps, finetunes; no UI"),
    ("kits", "Kits (`lossybench.kits`): what plugins share"),
    ("", "Contract (top level of `lossybench`): what a plugin implements, and its loader"),
    ("plugins", "Built-in plugins (`lossybench.plugins`): registered by entry points"),
    ("leaderboard",
     "Leaderboard (`lossybench.leaderboard`): a plugin that adds `bench leaderboard`"),
)


def modules() -> list[tuple[str, str, str]]:
    """(dotted name, path, first docstring paragraph) of every module."""
    out = []
    for folder, package in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT / folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            if folder == "core" and parts and parts[0] in ("plugins", "leaderboard"):
                continue
            name = ".".join([package, *parts])
            text = path.read_text()
            doc = ast.get_docstring(ast.parse(text)) or ""
            first = " ".join(doc.split("\n\n")[0].split())
            out.append((name, str(path.relative_to(ROOT)), first))
    return out


def layer_of(name: str) -> str:
    rest = name.removeprefix("lossybench").lstrip(".")
    head = rest.split(".")[0]
    if head == "transforms":
        return "api"
    return head if head in ("cli", "api", "engine", "kits", "plugins", "leaderboard") else ""


def render() -> str:
    mods = modules()
    lines = [BEGIN, ""]
    for key, title in LAYERS:
        lines += [f"**{title}**", "", "| module | what it holds |", "|---|---|"]
        for name, path, first in mods:
            if layer_of(name) == key:
                lines.append(f"| [`{name}`](../{path}) | {first.replace('|', '/')} |")
        lines.append("")
    lines.append(END)
    return "\n".join(lines)


def current() -> str:
    text = DOC.read_text()
    return text[text.index(BEGIN) : text.index(END) + len(END)]


def main() -> int:
    new = render()
    if "--check" in sys.argv:
        if current() != new:
            print("docs/architecture.md's module map is out of date: run "
                  "`.venv/bin/python scripts/module_map.py --write`", file=sys.stderr)
            return 1
        return 0
    if "--write" in sys.argv:
        DOC.write_text(DOC.read_text().replace(current(), new))
        return 0
    print(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
