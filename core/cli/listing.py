"""`bench list`: what the plugins registered, and what failed to load."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from lossybench.cli.console import stdout
from lossybench.codec import Codec
from lossybench.registry import Registry
from lossybench.registry import invocation_registry as registry


def _codec_row(name: str, reg: Registry) -> dict[str, Any]:
    entry = reg.get("codecs", name)
    cls: type[Codec] = entry.obj
    row: dict[str, Any] = {
        "name": name,
        "plugin": entry.origin.plugin,
        "distribution": entry.origin.distribution,
        "version": entry.origin.version,
        "description": entry.description,
        "quality": cls.quality.describe(),
        "options": {o.name: o.default for o in cls.options},
    }
    try:
        cls.check_available()
        row["backend"] = cls.backend().as_dict()
        row["available"] = True
    except Exception as exc:
        row["backend"] = None
        row["available"] = False
        row["unavailable_reason"] = str(exc)
    return row


def _plain_row(kind: str, name: str, reg: Registry) -> dict[str, Any]:
    entry = reg.get(kind, name)
    return {
        "name": name,
        "plugin": entry.origin.plugin,
        "distribution": entry.origin.distribution,
        "version": entry.origin.version,
        "description": entry.description,
    }


def list_cmd(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """List codecs, models, tasks and datasets, and plugins that failed to load.

    Example: bench list --json | jq '.codecs[].name'
    """
    reg = registry(ctx)
    data: dict[str, Any] = {
        "codecs": [_codec_row(n, reg) for n in reg.names("codecs")],
        "models": [_plain_row("models", n, reg) for n in reg.names("models")],
        "tasks": [_plain_row("tasks", n, reg) for n in reg.names("tasks")],
        "datasets": [_plain_row("datasets", n, reg) for n in reg.names("datasets")],
        "errors": [e.as_dict() for e in reg.errors],
        "disabled": reg.disabled,
    }
    if as_json:
        stdout.print_json(json.dumps(data))
        return
    t = Table(title="Codecs", title_justify="left")
    for col in ("name", "rate knob", "backend", "plugin", "description"):
        t.add_column(col)
    for row in data["codecs"]:
        b = row["backend"]
        backend = (
            f"{b['library']} {b['version']}"
            if b
            else f"[red]unavailable[/red]: {row.get('unavailable_reason', '')}"
        )
        t.add_row(
            row["name"],
            row["quality"],
            backend,
            f"{row['plugin']} ({row['distribution']} {row['version']})",
            row["description"],
        )
    stdout.print(t)
    for kind in ("models", "tasks", "datasets"):
        tk = Table(title=kind.capitalize(), title_justify="left")
        for col in ("name", "plugin", "description"):
            tk.add_column(col)
        for row in data[kind]:
            tk.add_row(
                row["name"],
                f"{row['plugin']} ({row['distribution']} {row['version']})",
                row["description"],
            )
        if not data[kind]:
            tk.add_row("[dim]none registered[/dim]", "", "")
        stdout.print(tk)
    if data["errors"]:
        te = Table(title="Plugins that failed to load", title_justify="left", style="red")
        for col in ("plugin", "distribution", "stage", "error"):
            te.add_column(col)
        for e in data["errors"]:
            te.add_row(e["plugin"], e["distribution"], e["stage"], e["error"])
        stdout.print(te)
    if reg.disabled:
        stdout.print(f"[dim]disabled plugins: {', '.join(reg.disabled)}[/dim]")
