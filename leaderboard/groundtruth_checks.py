"""The board's side of stored ground truth: reading its files, admitting results by it.

Why apart from ``board``: admission by ground truth has its own rules. A detection or
segmentation result is verified only against the ground truth the board stores for its
dataset (``groundtruth.verify``); a result whose metrics stay unrecomputed, or whose
dataset the board holds no ground truth for, is refused with what the admin can do, or,
on a board that takes unverified entries and a submission that asks for it, entered
with the ``unverified`` mark. A board never shows such numbers as verified. A result
on a dataset the board does not know is told what the board has instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from lossybench.leaderboard.formats import Index, KnownDataset
from lossybench.leaderboard.groundtruth import GroundTruth, needs_ground_truth, verify
from lossybench.leaderboard.problems import Report
from lossybench.leaderboard.safejson import UnsafeInput, clean_text, loads
from lossybench.leaderboard.storage import BoardError, read_indexed


def read_ground_truth(root: Path, known: KnownDataset) -> GroundTruth | None:
    """The stored ground truth of a registered dataset, checked against the index."""
    ref = known.ground_truth
    if ref is None:
        return None
    path = root / ref.file
    data = read_indexed(root, ref.file, ref.sha256)
    try:
        gt = GroundTruth.model_validate(loads(data))
    except (ValidationError, UnsafeInput, ExceptionGroup):
        raise BoardError(f"{path} is not a board's ground truth; restore the board "
                         "from git") from None
    if not gt.registered(known):
        raise BoardError(f"{path} is not the ground truth of dataset "
                         f"{clean_text(known.name, 80)!r} with sha256 {known.sha256}; "
                         "restore the board from git")
    return gt


def ground_truth_checks(
    root: Path, index: Index, reports: list[Report], allow_unverified: bool
) -> set[int]:
    """Check records against the stored ground truth, recomputing what needs it.

    A result that stays unverified is refused (a problem in its report), or with
    ``allow_unverified`` marked: its records' sha256 is dropped from what the board
    stores (the ``unverified`` mark) and the ``id()`` of its report is returned.
    """
    marked: set[int] = set()
    cache: dict[str, GroundTruth | None] = {}
    for rep in reports:
        r = rep.result
        if r is None or not rep.ok or rep.records is None:
            continue
        known = index.knows(r.dataset.name, r.dataset.sha256)
        gt = None
        if known is not None and known.ground_truth is not None:
            key = f"{known.ground_truth.file} {known.sha256}"
            if key not in cache:
                cache[key] = read_ground_truth(root, known)
            gt = cache[key]
            assert gt is not None
            verify(rep, r, known, gt)
            if not rep.ok:
                continue
        why = unverifiable(root, r, known, gt, rep.task is None, index.allow_unverified)
        if why is None:
            continue
        if allow_unverified:
            rep.records_sha256 = None
            rep.task = None
            marked.add(id(rep))
            rep.notes.append(f"unverified: {why[0]}; the entries are marked unverified and "
                             "get no bootstrap interval")
        else:
            rep.add("$.dataset.sha256", f"{why[0]}; {why[1]}")
    return marked


def unregistered(root: Path, index: Index, r: Any) -> str:
    """Why a result's dataset is refused, what the board has instead, and what to do."""
    name = clean_text(r.dataset.name, 80)
    have = [d for d in index.datasets if d.name == r.dataset.name][:2]
    seen = ("; the board has it with sha256 " + ", ".join(
        f"{d.sha256[:12]}… ({d.images if d.images is not None else '?'} images)"
        for d in have) + ", so this result is on other data" if have else "")
    if needs_ground_truth(r.task.name):
        limit = f" --limit {r.dataset.images}" if r.settings.limit is not None else ""
        sha, how = f"{r.dataset.sha256[:12]}…", f"{name}[:LOCATION]{limit}` on the data"
    else:
        sha, how = r.dataset.sha256, f"{name} {r.dataset.sha256}` once it checked the data"
    return (f"dataset {name!r} with sha256 {sha} is not registered on this board{seen}; "
            f"the board admin registers it with `bench leaderboard datasets add --board "
            f"{root} {how}")


def unverifiable(
    root: Path, r: Any, known: KnownDataset | None, gt: GroundTruth | None,
    not_recomputed: bool, board_allows: bool,
) -> tuple[str, str] | None:
    """(why a result cannot be verified, what to do), or None when it was verified."""
    task, name = clean_text(r.task.name, 60), clean_text(r.dataset.name, 80)
    unverified = (" (or, to enter it as unverified, submit it with --allow-unverified)"
                  if board_allows else "")
    if gt is None and needs_ground_truth(r.task.name):
        how = ("is registered on this board without its ground truth" if known is not None
               else "is not registered on this board, and --trust-dataset registers only its "
               "name and sha256, not its ground truth")
        limit = f" --limit {r.dataset.images}" if r.settings.limit is not None else ""
        return (f"dataset {name!r} (sha256 {r.dataset.sha256[:12]}…) {how}, so this {task} "
                "result's metrics cannot be recomputed from its records",
                "the board admin registers the data with `bench leaderboard datasets add "
                f"--board {root} {name}[:LOCATION]{limit}`, which stores its ground "
                f"truth{unverified}")
    if not_recomputed:
        return (f"task {task!r} could not recompute the metrics from the records"
                + (" against the registered ground truth" if gt is not None else
                   " without its dataset"),
                "only a board made with `bench leaderboard init --allow-unverified` takes "
                f"such a result, as unverified{unverified}")
    return None
