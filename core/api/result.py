"""What ``lossybench.evaluate`` returns: the run result ``bench run`` writes, and its files.

Why a subclass: the numbers must be exactly the :class:`~lossybench.engine.results.RunResult`
of a ``bench run`` (same schema, same leaderboard checks), and a notebook also wants the
per-image records, a copy of both files somewhere else, and a plot, without knowing where
the run wrote them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from pydantic import PrivateAttr

from lossybench.engine.results import RunResult


class Evaluation(RunResult):
    """A :class:`RunResult` that knows its files (``NAME.json`` and ``NAME.jsonl``)."""

    _path: Path | None = PrivateAttr(default=None)

    @classmethod
    def of(cls, result: RunResult, path: Path) -> Evaluation:
        out = cls.model_validate(result.model_dump())
        out._path = Path(path)
        return out

    @property
    def path(self) -> Path:
        """The result JSON the run wrote (``OUT/NAME.json``)."""
        if self._path is None:
            raise ValueError("this result was not written by lossybench.evaluate")
        return self._path

    @property
    def records_path(self) -> Path:
        """The per-image JSONL next to it (what resumes, and what every aggregate comes from)."""
        return self.path.with_suffix(".jsonl")

    def image_records(self) -> list[dict[str, Any]]:
        """Every per-image record: one clean record per image, one per (codec, point)."""
        with open(self.records_path, encoding="utf-8") as f:
            next(f, None)  # the header that pins the configuration
            return [json.loads(line) for line in f if line.strip()]

    def save(self, directory: str | Path) -> Path:
        """Copy the result JSON and its JSONL into ``directory``; returns the JSON's path.

        The pair is what ``bench leaderboard validate`` and ``bench report`` read.
        """
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / self.path.name
        if target.resolve() != self.path.resolve():
            target.write_text(RunResult.model_validate(self.model_dump()).model_dump_json(
                indent=2))
            shutil.copyfile(self.records_path, target.with_suffix(".jsonl"))
        return target

    def plot(self, path: str | Path) -> list[Path]:
        """The rate–accuracy plot of ``bench run`` (PNG and SVG next to ``path``)."""
        from lossybench.engine.plots import plot_results

        return plot_results([self], Path(path).with_suffix(""))

    def summary(self) -> list[dict[str, Any]]:
        """One row per codec and point: target, real mean bpp, headline metric, its drop."""
        head = self.task.headline
        clean = self.clean.metrics.get(head)
        rows = [{"codec": "clean", "target": None, "bpp": None, head: clean, "drop": 0.0}]
        for c in self.codecs:
            for p, at in zip(c.points, c.summary.at, strict=True):
                rows.append({"codec": c.label, "target": p.target, "bpp": p.bpp_mean,
                             head: p.metrics.get(head), "drop": at.relative_drop})
        return rows
