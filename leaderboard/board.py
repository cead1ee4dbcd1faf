"""The board: a folder of plain JSON files plus an index, safe to keep in git.

Layout::

    DIR/index.json                      datasets the board knows + one line per entry
    DIR/entries/<id>.<sha16>.json       one entry (model × codec × dataset × task)
    DIR/results/<sha256>.json           each accepted result file, byte for byte
    DIR/groundtruth/<sha256>.json       the ground truth of datasets registered from their
                                        data (``datasets add NAME[:LOCATION]``)

Every entry is verified against its per-image records unless the board was made to
accept unverified entries (``init(allow_unverified=True)``, stored in the index) and the
submission asks for it (``submit(allow_unverified=True)``); such entries are marked. A
detection or segmentation result is verified only against its dataset's ground truth
as the board stores it (``groundtruth_checks``): without it, the same rule applies.

Entry ids are the sha256 of the entry's identity, and file names are made only of
hex digests, so no submitted string ever becomes part of a path. Admission happens
here: a submission is validated, checked against the board, and written as one
transaction (``storage``), so the board takes all of it or none.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from lossybench.engine.results import NAME, PATTERNS, string_problem
from lossybench.leaderboard.bootstrap import (
    DEFAULT_BUDGET_S,
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    Interval,
    bootstrap,
)
from lossybench.leaderboard.entries import entries_from_result
from lossybench.leaderboard.formats import (
    HEX64,
    BoardEntry,
    Bootstrap,
    CurvePoint,
    GroundTruthRef,
    Index,
    IndexEntry,
    KnownDataset,
    Provenance,
    Source,
    entry_id,
    index_line,
    now,
)
from lossybench.leaderboard.groundtruth import GroundTruth
from lossybench.leaderboard.groundtruth_build import Collected
from lossybench.leaderboard.groundtruth_checks import (
    ground_truth_checks,
    read_ground_truth,
    unregistered,
)
from lossybench.leaderboard.safejson import Limits, UnsafeInput, clean_text, loads
from lossybench.leaderboard.storage import (
    INDEX_FILE,
    BoardError,
    commit,
    dump_json,
    locked,
    read_indexed,
    read_json,
)
from lossybench.leaderboard.validate import Report, result_digest, validate_files

_IDENT_RE = re.compile(HEX64)
_GT_NAME = re.compile(r"^[0-9a-f]{64}\.json$")
#: the old name of ``storage.dump_json``, still imported from here
_dump = dump_json


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
        self.index_path = self.root / INDEX_FILE

    # -- reading --------------------------------------------------------------------------
    def exists(self) -> bool:
        return self.index_path.is_file()

    def index(self) -> Index:
        if not self.exists():
            raise BoardError(f"no board at {self.root}: create one with "
                             f"`bench leaderboard init --board {self.root}`")
        try:
            return Index.model_validate(read_json(self.index_path))
        except ValidationError as exc:
            raise BoardError(f"{self.index_path} is not a board index: "
                             f"{clean_text(exc.errors()[0]['msg'])} at "
                             f"{'.'.join(map(str, exc.errors()[0]['loc']))}") from None

    def entries(self, index: Index | None = None) -> list[BoardEntry]:
        index = index or self.index()
        out = []
        for line in index.entries:
            path = self.root / line.file
            data = read_indexed(self.root, line.file, line.sha256)
            try:
                entry = BoardEntry.model_validate(loads(data))
            except (ValidationError, UnsafeInput, ExceptionGroup) as exc:
                raise BoardError(f"{path} is not a board entry: {clean_text(exc, 200)}") from None
            if entry.id != line.id:
                raise BoardError(f"{path} holds entry {entry.id}, the index says {line.id}")
            out.append(entry)
        return out

    # -- writing --------------------------------------------------------------------------
    def init(self, allow_unverified: bool | None = None) -> Index:
        """Create an empty board (the folder may exist; an existing board is kept).

        ``allow_unverified`` sets whether results without their per-image records may be
        entered (as unverified entries); None keeps an existing board's setting (a new
        board requires records).
        """
        if self.exists():
            if allow_unverified is None or self.index().allow_unverified == allow_unverified:
                return self.index()
            with locked(self.root):
                index = self.index()
                index.allow_unverified = allow_unverified
                commit(self.root, index, {})
                return index
        self.root.mkdir(parents=True, exist_ok=True)
        index = Index(allow_unverified=bool(allow_unverified))
        with locked(self.root):
            commit(self.root, index, {})
        return index

    def add_dataset(self, name: str, sha256: str, images: int | None = None) -> KnownDataset:
        if not _IDENT_RE.match(sha256):
            raise BoardError("the dataset sha256 must be 64 lower-case hex digits")
        if not re.match(NAME, name) or string_problem(name, name=True):
            raise BoardError(f"{clean_text(repr(name), 80)} {PATTERNS[NAME]}")
        if not self.exists():
            self.init()
        with locked(self.root):
            index = self.index()
            known = index.knows(name, sha256)
            if known is not None:
                return known
            ds = KnownDataset(name=name, sha256=sha256, images=images, added=now())
            index.datasets = sorted([*index.datasets, ds], key=lambda d: (d.name, d.sha256))
            commit(self.root, index, {})
            return ds

    def register(self, found: Collected) -> list[KnownDataset]:
        """Register a dataset opened from its data: each fingerprint, with its ground truth.

        A dataset already registered (by name and sha256 only, or with older ground
        truth) gets this ground truth; the others stay as they are.
        """
        name = found.name
        if not re.match(NAME, name) or string_problem(name, name=True):
            raise BoardError(f"{clean_text(repr(name), 80)} {PATTERNS[NAME]}")
        files: dict[str, bytes] = {}
        ref = None
        if found.ground_truth is not None:
            data = dump_json(found.ground_truth.model_dump(mode="json"))
            sha = hashlib.sha256(data).hexdigest()
            ref = GroundTruthRef(file=f"groundtruth/{sha}.json", sha256=sha,
                                 task=found.ground_truth.task)
            files[ref.file] = data
        if not self.exists():
            self.init()
        with locked(self.root):
            index = self.index()
            out = []
            for fp in found.fingerprints:
                old = index.knows(name, fp.sha256)
                ds = KnownDataset(name=name, sha256=fp.sha256, images=fp.images,
                                  added=old.added if old else now(), ground_truth=ref)
                index.datasets = sorted(
                    [d for d in index.datasets if d is not old] + [ds],
                    key=lambda d: (d.name, d.sha256))
                out.append(ds)
            if files:
                (self.root / "groundtruth").mkdir(exist_ok=True)
            commit(self.root, index, files)
            self._drop_stale_ground_truth(index)
            return out

    def _drop_stale_ground_truth(self, index: Index) -> None:
        """Remove ground-truth files no registered dataset refers to any more."""
        folder = self.root / "groundtruth"
        if not folder.is_dir():
            return
        keep = {d.ground_truth.file for d in index.datasets if d.ground_truth is not None}
        for p in folder.iterdir():
            if _GT_NAME.match(p.name) and f"groundtruth/{p.name}" not in keep and p.is_file():
                with contextlib.suppress(OSError):
                    p.unlink()

    def ground_truth(self, known: KnownDataset) -> GroundTruth | None:
        """The stored ground truth of a registered dataset (checked against the index)."""
        return read_ground_truth(self.root, known)

    def remove(self, ident: str) -> None:
        if not _IDENT_RE.match(ident):
            raise BoardError("an entry id is 64 lower-case hex digits (see `bench leaderboard "
                             "show --json`)")
        with locked(self.root):
            index = self.index()
            if not any(e.id == ident for e in index.entries):
                raise BoardError(f"no entry {ident} on this board")
            index.entries = [e for e in index.entries if e.id != ident]
            commit(self.root, index, {})

    def submit(
        self,
        paths: Sequence[str | Path],
        registry: Any = None,
        *,
        records: Path | Literal[False] | None = None,
        limits: Limits | None = None,
        replace: bool = False,
        trust_dataset: bool = False,
        allow_unverified: bool = False,
        finetuned_from: str | None = None,
        resamples: int = DEFAULT_RESAMPLES,
        seed: int = DEFAULT_SEED,
        budget_s: float = DEFAULT_BUDGET_S,
    ) -> SubmitOutcome:
        """Validate, recompute and store ``paths`` as one transaction: all or nothing.

        ``allow_unverified`` accepts results without their per-image records, as unverified
        entries; only a board made with ``init(allow_unverified=True)`` takes it.
        """
        if finetuned_from is not None and not _IDENT_RE.match(finetuned_from):
            raise BoardError("--finetuned-from takes the sha256 of the base weights")
        if not self.exists() and not trust_dataset:
            raise BoardError(f"no board at {self.root}: create one with `bench leaderboard "
                             f"init --board {self.root}`")
        if allow_unverified and not (self.exists() and self.index().allow_unverified):
            raise BoardError(self._unverified_refused())
        reports = validate_files(paths, registry, records, limits,
                                 require_records=not allow_unverified)
        outcome = SubmitOutcome(reports)
        if not outcome.ok:
            return outcome
        new_board = not self.exists()
        made_root = not self.root.exists()
        if new_board:
            self.root.mkdir(parents=True, exist_ok=True)
        with locked(self.root):
            index = Index() if new_board else self.index()
            self._board_checks(index, reports, replace, trust_dataset)
            marked = ground_truth_checks(self.root, index, reports, allow_unverified)
            for rep in reports:
                if rep.records is None and not index.allow_unverified:
                    # validated as unverified, but the board's setting changed since
                    rep.add("$.records", self._unverified_refused())
            if not outcome.ok:
                if made_root:
                    with contextlib.suppress(OSError):
                        self.root.rmdir()
                return outcome
            stamp = now()
            new: list[BoardEntry] = []
            files: dict[str, bytes] = {}
            for rep in reports:
                r = rep.result
                assert r is not None
                intervals = None
                labels = [c.label for c in r.codecs]
                if id(rep) in marked:
                    pass  # entered unverified: its metrics were not recomputed
                elif rep.records is not None and rep.task is not None and resamples > 0:
                    intervals = bootstrap(rep.task, rep.records, labels,
                                          list(r.settings.points), resamples, seed,
                                          budget_s=budget_s)
                elif rep.records is not None:
                    why = ("bootstrap disabled (--bootstrap 0)" if resamples <= 0 else
                           "the task cannot aggregate the records without its dataset")
                    intervals = {lb: Interval(0, seed, 0.95, None, None, 0, why)
                                 for lb in labels}
                else:
                    rep.notes.append("no per-image records: the entries are marked unverified, "
                                     "get no bootstrap interval and share a rank only on an "
                                     "exactly equal score")
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
                data = dump_json(e.model_dump(mode="json"))
                sha = hashlib.sha256(data).hexdigest()
                rel = f"entries/{e.id}.{sha[:16]}.json"
                files[rel] = data
                if e.id in lines:
                    outcome.replaced.append(e.id)
                lines[e.id] = index_line(e, rel, sha)
            index.entries = sorted(lines.values(), key=lambda x: x.id)
            commit(self.root, index, files)
            outcome.accepted = new
            return outcome

    def _unverified_refused(self) -> str:
        return (f"the board at {self.root} requires the per-image records of every result "
                "(--allow-unverified works only on a board made with `bench leaderboard init "
                f"--board {self.root} --allow-unverified`); give the JSONL `bench run` wrote "
                "next to the result")

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
                rep.add("$.dataset.sha256", unregistered(self.root, index, r))
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


__all__ = [
    "Board",
    "BoardEntry",
    "BoardError",
    "Bootstrap",
    "CurvePoint",
    "Index",
    "IndexEntry",
    "KnownDataset",
    "Provenance",
    "Source",
    "SubmitOutcome",
    "entries_from_result",
    "entry_id",
    "index_line",
]
