"""The board: a folder of plain JSON files plus an index, safe to keep in git.

Layout::

    DIR/index.json                      datasets the board knows + one line per entry
    DIR/entries/<id>.<sha16>.json       one entry (model × codec × dataset × task)
    DIR/results/<sha256>.json           each accepted result file, byte for byte

Entry ids are the sha256 of the entry's identity, and file names are made only of
hex digests, so no submitted string ever becomes part of a path. Files are
content-addressed and the index is replaced last with ``os.replace``: a write that
fails or is killed half-way leaves the index, and so the board, as it was; files
the index does not reference are ignored and removed by the next write.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lossybench.engine.results import RunResult
from lossybench.errors import LossybenchError
from lossybench.leaderboard.bootstrap import (
    DEFAULT_BUDGET_S,
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    Interval,
    bootstrap,
)
from lossybench.leaderboard.safejson import Limits, UnsafeInput, clean_text, loads, read_capped
from lossybench.leaderboard.validate import Report, result_digest, validate_files

INDEX_FORMAT = "lossybench-board/1"
ENTRY_FORMAT = "lossybench-entry/1"
HEX64 = r"^[0-9a-f]{64}$"
ENTRY_FILE = r"^entries/[0-9a-f]{64}\.[0-9a-f]{16}\.json$"
RESULT_FILE = r"^results/[0-9a-f]{64}\.json$"
#: A board is read by everyone who renders it; cap what a hand-edited file may hold.
MAX_BOARD_FILE = 50 * 1024 * 1024
_IDENT_RE = re.compile(HEX64)


class BoardError(LossybenchError):
    """The board cannot be read or written; the message says what to do."""


class Loose(BaseModel):
    """Stored models: types are checked, strings are not trusted (the renderer escapes)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class KnownDataset(Loose):
    name: str = Field(max_length=200)
    sha256: str = Field(pattern=HEX64)
    images: int | None = Field(default=None, ge=0)
    added: str = Field(max_length=40)


class IndexEntry(Loose):
    id: str = Field(pattern=HEX64)
    file: str = Field(pattern=ENTRY_FILE)
    sha256: str = Field(pattern=HEX64)
    task: str = Field(max_length=200)
    dataset: str = Field(max_length=200)
    model: str = Field(max_length=500)
    codec: str = Field(max_length=200)
    finetuned_from: str | None = Field(default=None, pattern=HEX64)
    result: str = Field(pattern=RESULT_FILE)


class Index(Loose):
    format: Literal["lossybench-board/1"] = INDEX_FORMAT
    datasets: list[KnownDataset] = Field(default_factory=list)
    entries: list[IndexEntry] = Field(default_factory=list)

    def knows(self, name: str, sha256: str) -> KnownDataset | None:
        return next((d for d in self.datasets if d.name == name and d.sha256 == sha256), None)


class CurvePoint(Loose):
    target: float
    bpp_mean: float | None
    bpp_std: float | None
    psnr_mean: float | None
    metrics: dict[str, float]
    images: int = Field(ge=0)
    failures: int = Field(ge=0)
    flagged: int = Field(ge=0)


class Bootstrap(Loose):
    resamples: int = Field(ge=0)
    seed: int
    level: float = Field(gt=0, lt=1)
    low: float | None
    high: float | None
    defined: int = Field(ge=0)
    reason: str | None = Field(default=None, max_length=500)


class Provenance(Loose):
    lossybench: str = Field(max_length=100)
    created: str = Field(max_length=40)
    plugins: list[str] = Field(default_factory=list, max_length=1000)
    environment: dict[str, str] = Field(default_factory=dict)
    backend: dict[str, str] = Field(default_factory=dict)
    knob: str = Field(default="", max_length=300)
    weights_source: str = Field(default="", max_length=1000)


class Source(Loose):
    result: str = Field(pattern=RESULT_FILE)
    result_sha256: str = Field(pattern=HEX64)
    records_sha256: str | None = Field(default=None, pattern=HEX64)


class BoardEntry(Loose):
    """One ranked line: a model (with its weights) under one codec, on one dataset."""

    format: Literal["lossybench-entry/1"] = ENTRY_FORMAT
    id: str = Field(pattern=HEX64)
    task: str = Field(max_length=200)
    headline: str = Field(max_length=100)
    metric_range: tuple[float, float] = (0.0, 1.0)
    dataset: str = Field(max_length=200)
    dataset_sha256: str = Field(pattern=HEX64)
    images: int = Field(ge=0)
    model: str = Field(max_length=500, description="FAMILY:NAME")
    weights_sha256: str | None = Field(default=None, pattern=HEX64)
    codec: str = Field(max_length=200, description="codec name, e.g. jpeg")
    codec_label: str = Field(max_length=200, description="codec label incl. settings")
    mode: Literal["bpp", "quality"] = "bpp"
    clean: dict[str, float]
    points: list[CurvePoint] = Field(max_length=100)
    bootstrap: Bootstrap | None = None
    finetuned_from: str | None = Field(default=None, pattern=HEX64)
    provenance: Provenance
    source: Source
    submitted: str = Field(max_length=40)


def entry_id(task: str, dataset_sha256: str, model: str, weights: str | None, codec: str) -> str:
    """The identity of an entry: duplicates are entries with the same id."""
    ident = ["lossybench-entry/1", task, dataset_sha256, model, weights or "random", codec]
    return hashlib.sha256(json.dumps(ident).encode()).hexdigest()


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _dump(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=True,
                       allow_nan=False) + "\n").encode()


def entries_from_result(
    r: RunResult, report: Report, finetuned_from_weights: str | None = None,
    intervals: dict[str, Any] | None = None, submitted: str | None = None,
) -> list[BoardEntry]:
    """One board entry per codec of a validated result."""
    model = f"{r.model.family}:{r.model.name}"
    digest = result_digest(report)
    out = []
    for c in r.codecs:
        base = None
        if finetuned_from_weights:
            base = entry_id(r.task.name, r.dataset.sha256, model, finetuned_from_weights,
                            c.label)
        iv = (intervals or {}).get(c.label)
        out.append(BoardEntry(
            id=entry_id(r.task.name, r.dataset.sha256, model, r.model.weights.sha256, c.label),
            task=r.task.name, headline=r.task.headline,
            metric_range=tuple(getattr(report.task_cls, "metric_range", (0.0, 1.0))),
            dataset=r.dataset.name, dataset_sha256=r.dataset.sha256,
            images=r.clean.images + r.clean.failures, model=model,
            weights_sha256=r.model.weights.sha256, codec=c.name, codec_label=c.label,
            mode=r.settings.mode, clean=dict(r.clean.metrics),
            points=[CurvePoint(**p.model_dump(exclude={"quality_min", "quality_max"}))
                    for p in c.points],
            bootstrap=Bootstrap(**iv.as_dict()) if iv is not None else None,
            finetuned_from=base,
            provenance=Provenance(
                lossybench=r.lossybench.version, created=r.created,
                plugins=[f"{p.name} ({p.distribution} {p.version})" for p in r.lossybench.plugins],
                environment={k: str(v) for k, v in r.environment.model_dump().items()
                             if k != "command"},
                backend=c.backend.model_dump(), knob=c.quality,
                weights_source=r.model.weights.source,
            ),
            source=Source(result=f"results/{digest}.json", result_sha256=digest,
                          records_sha256=report.records_sha256),
            submitted=submitted or _now(),
        ))
    return out


def index_line(e: BoardEntry, file: str, sha: str) -> IndexEntry:
    return IndexEntry(id=e.id, file=file, sha256=sha, task=e.task, dataset=e.dataset,
                      model=e.model, codec=e.codec_label, finetuned_from=e.finetuned_from,
                      result=e.source.result)


@dataclass
class SubmitOutcome:
    """What a submission did: the reports, board-level problems and accepted entries."""

    reports: list[Report]
    accepted: list[BoardEntry] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.reports)


class Board:
    """A board folder. Reading verifies every entry file against the index."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.index_path = self.root / "index.json"

    # -- reading --------------------------------------------------------------------------
    def exists(self) -> bool:
        return self.index_path.is_file()

    def _read_json(self, path: Path) -> Any:
        try:
            return loads(read_capped(path, MAX_BOARD_FILE, path.name))
        except UnsafeInput as exc:
            raise BoardError(f"{path}: {exc.path}: {exc.message}") from None
        except ExceptionGroup as group:
            first = group.exceptions[0]
            raise BoardError(f"{path}: {getattr(first, 'message', first)}") from None

    def index(self) -> Index:
        if not self.exists():
            raise BoardError(f"no board at {self.root}: create one with "
                             f"`bench leaderboard init --board {self.root}`")
        try:
            return Index.model_validate(self._read_json(self.index_path))
        except ValidationError as exc:
            raise BoardError(f"{self.index_path} is not a board index: "
                             f"{clean_text(exc.errors()[0]['msg'])} at "
                             f"{'.'.join(map(str, exc.errors()[0]['loc']))}") from None

    def entries(self, index: Index | None = None) -> list[BoardEntry]:
        index = index or self.index()
        out = []
        for line in index.entries:
            path = self.root / line.file
            try:
                data = read_capped(path, MAX_BOARD_FILE, line.file)
            except UnsafeInput as exc:
                raise BoardError(f"{path}: {exc.message}; restore the board from git") from None
            if hashlib.sha256(data).hexdigest() != line.sha256:
                raise BoardError(f"{path} does not match the index (edited by hand?); "
                                 "restore the board from git")
            try:
                entry = BoardEntry.model_validate(loads(data))
            except (ValidationError, UnsafeInput, ExceptionGroup) as exc:
                raise BoardError(f"{path} is not a board entry: {clean_text(exc, 200)}") from None
            if entry.id != line.id:
                raise BoardError(f"{path} holds entry {entry.id}, the index says {line.id}")
            out.append(entry)
        return out

    # -- writing --------------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialise writers with a lock on the folder itself (creates no file)."""
        fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _commit(self, index: Index, files: dict[str, bytes]) -> None:
        """Write ``files`` (content-addressed), then the index; undo everything on failure."""
        created: list[Path] = []
        made_dirs: list[Path] = []
        tmps: list[Path] = []

        def put(path: Path, data: bytes) -> None:
            tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
            tmps.append(tmp)
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
            tmps.remove(tmp)

        try:
            for sub in ("entries", "results"):
                d = self.root / sub
                if files and not d.exists():
                    d.mkdir()
                    made_dirs.append(d)
            for rel, data in sorted(files.items()):
                path = self.root / rel
                if path.exists() and path.read_bytes() == data:
                    continue
                existed = path.exists()
                put(path, data)
                if not existed:
                    created.append(path)
            put(self.index_path, _dump(index.model_dump(mode="json")))
        except BaseException as exc:
            for p in tmps + created:
                with contextlib.suppress(OSError):
                    p.unlink()
            for d in reversed(made_dirs):
                with contextlib.suppress(OSError):
                    d.rmdir()
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                raise
            raise BoardError(f"could not write the board ({type(exc).__name__}: "
                             f"{clean_text(exc, 200)}); it is unchanged") from exc
        self._fsync_dir()
        self._collect(index)

    def _fsync_dir(self) -> None:
        fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _collect(self, index: Index) -> None:
        """Remove files the committed index no longer references (and crash leftovers)."""
        keep = {line.file for line in index.entries} | {line.result for line in index.entries}
        for p in self.root.glob(".index.json.????????.tmp"):
            with contextlib.suppress(OSError):
                p.unlink()
        # only names this module writes: a board made in a folder that already holds
        # other files (say, bench run's results/) never loses them
        ours = re.compile(r"^(?:[0-9a-f]{64}(?:\.[0-9a-f]{16})?\.json|\..+\.[0-9a-f]{8}\.tmp)$")
        for sub in ("entries", "results"):
            d = self.root / sub
            if not d.is_dir():
                continue
            for p in d.iterdir():
                if f"{sub}/{p.name}" not in keep and ours.match(p.name) and p.is_file():
                    with contextlib.suppress(OSError):
                        p.unlink()

    def init(self) -> Index:
        """Create an empty board (the folder may exist; an existing board is kept)."""
        if self.exists():
            return self.index()
        self.root.mkdir(parents=True, exist_ok=True)
        index = Index()
        with self._locked():
            self._commit(index, {})
        return index

    def add_dataset(self, name: str, sha256: str, images: int | None = None) -> KnownDataset:
        if not _IDENT_RE.match(sha256):
            raise BoardError("the dataset sha256 must be 64 lower-case hex digits")
        if not re.match(r"^[A-Za-z0-9][A-Za-z0-9._:+=,/@-]{0,199}$", name):
            raise BoardError("dataset names are letters, digits and ._:+=,/@- (as in results)")
        if not self.exists():
            self.init()
        with self._locked():
            index = self.index()
            known = index.knows(name, sha256)
            if known is not None:
                return known
            ds = KnownDataset(name=name, sha256=sha256, images=images, added=_now())
            index.datasets = sorted([*index.datasets, ds], key=lambda d: (d.name, d.sha256))
            self._commit(index, {})
            return ds

    def remove(self, ident: str) -> None:
        if not _IDENT_RE.match(ident):
            raise BoardError("an entry id is 64 lower-case hex digits (see `bench leaderboard "
                             "show --json`)")
        with self._locked():
            index = self.index()
            if not any(e.id == ident for e in index.entries):
                raise BoardError(f"no entry {ident} on this board")
            index.entries = [e for e in index.entries if e.id != ident]
            self._commit(index, {})

    def submit(
        self,
        paths: Sequence[str | Path],
        registry: Any = None,
        *,
        records: Path | Literal[False] | None = None,
        limits: Limits | None = None,
        replace: bool = False,
        trust_dataset: bool = False,
        require_records: bool = False,
        finetuned_from: str | None = None,
        resamples: int = DEFAULT_RESAMPLES,
        seed: int = DEFAULT_SEED,
        budget_s: float = DEFAULT_BUDGET_S,
    ) -> SubmitOutcome:
        """Validate, recompute and store ``paths`` as one transaction: all or nothing."""
        if finetuned_from is not None and not _IDENT_RE.match(finetuned_from):
            raise BoardError("--finetuned-from takes the sha256 of the base weights")
        if not self.exists() and not trust_dataset:
            raise BoardError(f"no board at {self.root}: create one with `bench leaderboard "
                             f"init --board {self.root}`")
        reports = validate_files(paths, registry, records, limits)
        outcome = SubmitOutcome(reports)
        if not outcome.ok:
            return outcome
        new_board = not self.exists()
        made_root = not self.root.exists()
        if new_board:
            self.root.mkdir(parents=True, exist_ok=True)
        with self._locked():
            index = Index() if new_board else self.index()
            self._board_checks(index, reports, replace, trust_dataset)
            if require_records:
                for rep in reports:
                    if rep.records is None:
                        rep.add("$.records", "this board requires the per-image records (the "
                                "JSONL written next to the result) to verify every number")
            if not outcome.ok:
                if made_root:
                    with contextlib.suppress(OSError):
                        self.root.rmdir()
                return outcome
            stamp = _now()
            new: list[BoardEntry] = []
            files: dict[str, bytes] = {}
            for rep in reports:
                r = rep.result
                assert r is not None
                intervals = None
                labels = [c.label for c in r.codecs]
                if rep.records is not None and rep.task is not None and resamples > 0:
                    intervals = bootstrap(rep.task, rep.records, labels,
                                          list(r.settings.points), resamples, seed,
                                          budget_s=budget_s)
                elif rep.records is not None:
                    why = ("bootstrap disabled (--bootstrap 0)" if resamples <= 0 else
                           "the task cannot aggregate the records without its dataset")
                    intervals = {lb: Interval(0, seed, 0.95, None, None, 0, why)
                                 for lb in labels}
                else:
                    rep.notes.append("no per-image records: entries get no bootstrap interval "
                                     "and share a rank only on an exactly equal score")
                new += entries_from_result(r, rep, finetuned_from, intervals, stamp)
                assert rep.raw is not None
                files[f"results/{result_digest(rep)}.json"] = rep.raw
                if trust_dataset and index.knows(r.dataset.name, r.dataset.sha256) is None:
                    index.datasets = sorted(
                        [*index.datasets, KnownDataset(name=r.dataset.name,
                                                       sha256=r.dataset.sha256,
                                                       images=r.dataset.images, added=stamp)],
                        key=lambda d: (d.name, d.sha256))
            lines = {e.id: e for e in index.entries}
            for e in new:
                data = _dump(e.model_dump(mode="json"))
                sha = hashlib.sha256(data).hexdigest()
                rel = f"entries/{e.id}.{sha[:16]}.json"
                files[rel] = data
                if e.id in lines:
                    outcome.replaced.append(e.id)
                lines[e.id] = index_line(e, rel, sha)
            index.entries = sorted(lines.values(), key=lambda x: x.id)
            self._commit(index, files)
            outcome.accepted = new
            return outcome

    def _board_checks(
        self, index: Index, reports: list[Report], replace: bool, trust: bool
    ) -> None:
        existing = {e.id: e for e in index.entries}
        batch: dict[str, str] = {}
        for rep in reports:
            r = rep.result
            assert r is not None
            ds = index.knows(r.dataset.name, r.dataset.sha256)
            if ds is None and not trust:
                rep.add("$.dataset.sha256", (
                    f"dataset {r.dataset.name!r} with sha256 {r.dataset.sha256} is not "
                    "registered on this board; the board admin checks the data and registers "
                    f"it with `bench leaderboard datasets add --board {self.root} "
                    f"{r.dataset.name} {r.dataset.sha256}`"))
            elif ds is not None and ds.images is not None and ds.images != r.dataset.images:
                rep.add("$.dataset.images", f"states {r.dataset.images} images; the board "
                        f"registered {ds.images} for this dataset")
            model = f"{r.model.family}:{r.model.name}"
            for c in r.codecs:
                eid = entry_id(r.task.name, r.dataset.sha256, model, r.model.weights.sha256,
                               c.label)
                what = (f"{model} (weights {str(r.model.weights.sha256)[:12]}…) × {c.label} "
                        f"on {r.dataset.name} for {r.task.name}")
                if eid in batch:
                    rep.add("$.codecs", f"{what} is submitted twice ({batch[eid]} and this file)")
                batch[eid] = rep.file
                if eid in existing and not replace:
                    rep.add("$.codecs", f"{what} is already on the board (entry {eid[:16]}…); "
                            "pass --replace to replace it")
