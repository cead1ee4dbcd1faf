"""What a failed check leaves behind: problems tied to a file and a JSON path.

Every layer of the validation reports into one ``Report`` instead of raising, so a
submitter sees all that is wrong with a file at once, each problem where it is, and
the command line can print them or dump them as JSON for a CI job to read.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from lossybench.engine.results import RunResult
from lossybench.leaderboard.safejson import clean_text

MAX_PROBLEMS = 100


@dataclass
class Problem:
    """One thing wrong with one file, at one JSON path."""

    file: str
    path: str
    message: str

    def line(self) -> str:
        return f"{clean_text(self.file, 200)}: {self.path}: {clean_text(self.message, 400)}"

    def as_dict(self) -> dict[str, str]:
        return {"file": self.file, "path": self.path, "message": clean_text(self.message, 400)}


@dataclass
class Report:
    """What validation found; ``result``/``records`` are set only when they parsed."""

    file: str
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    result: RunResult | None = None
    raw: bytes | None = None
    records: list[dict[str, Any]] | None = None
    records_file: str | None = None
    records_sha256: str | None = None
    #: the registered task class, and an instance built without data when the records
    #: could be aggregated by it
    task_cls: Any = None
    task: Any = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, path: str, message: str, file: str | None = None) -> None:
        self.problems.append(Problem(file or self.file, path, message))

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "valid": self.ok,
            "records": self.records_file,
            "problems": [p.as_dict() for p in self.problems[:MAX_PROBLEMS]],
            "more_problems": max(0, len(self.problems) - MAX_PROBLEMS),
            "notes": [clean_text(n, 400) for n in self.notes],
        }


def dump_problems(reports: Sequence[Report]) -> str:
    return json.dumps({"valid": all(r.ok for r in reports),
                       "files": [r.as_dict() for r in reports]}, indent=2)


def fmt_value(v: Any) -> str:
    """A stated or recomputed value as a message shows it: ``null``, 12 digits, or text."""
    return "null" if v is None else (f"{v:.12g}" if isinstance(v, float) else clean_text(v, 80))


def short_message(msg: str) -> str:
    """A checker's own message (schema, pydantic), cleaned and cut to one line's worth."""
    return clean_text(msg, 240)
