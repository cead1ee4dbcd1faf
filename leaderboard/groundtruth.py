"""The ground truth a board keeps for a registered dataset, and the checks that use it.

Why: a detection result's mAP can only be recomputed from its per-image detections
against the dataset's COCO boxes, and a segmentation result's per-image confusion
matrices are only the dataset's if their ground-truth side matches its label masks.
So ``bench leaderboard datasets add NAME[:LOCATION]`` opens the dataset, and the board
stores, beside its fingerprint, what these checks need (``groundtruth_build``):

* detection: per image its COCO ``image_id``, and the COCO ground truth of those images
  (images, box annotations without their segmentation masks, categories);
* segmentation: per image the number of scored pixels and of pixels of every class (the
  ground-truth row sums of a confusion matrix: all of the mask a confusion can be
  checked against);
* classification: nothing (outcomes hold no label; the fingerprint is enough).

Samples are kept in dataset order, so the first N are the dataset a ``--limit N`` run
used: one file serves every prefix the admin registered (one fingerprint each).

At submission (:func:`verify`), the records must hold exactly the registered images,
their outcomes must agree with the stored ground truth, and metrics the task could not
aggregate without its dataset are recomputed by the registered task given a
:class:`GroundTruthView` of it: a ``Dataset`` whose samples carry the stored targets.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

from pydantic import Field

from lossybench.dataset import Dataset, Sample
from lossybench.engine.results import RunResult
from lossybench.errors import LossybenchError
from lossybench.leaderboard.formats import KnownDataset, Loose
from lossybench.leaderboard.problems import Report
from lossybench.leaderboard.recompute import NOT_RECOMPUTED, recompute_from_records
from lossybench.leaderboard.safejson import clean_text

GROUND_TRUTH_FORMAT = "lossybench-groundtruth/1"
#: tasks whose per-image outcomes are scored against ground truth the board must hold
#: before it shows their numbers as verified
GROUND_TRUTH_TASKS = ("detection", "segmentation")
#: how many disagreeing images a check names before it only counts the rest
SHOW = 3


class StoredSample(Loose):
    """One image's ground truth, as far as the checks need it."""

    id: str = Field(min_length=1, max_length=1000)
    #: detection: the COCO image id its outcomes are scored as
    image_id: int | None = None
    #: segmentation: pixels scored (not ignored), and ``[class id, pixels]`` per class
    pixels: int | None = Field(default=None, ge=0)
    classes: list[tuple[int, int]] | None = Field(default=None, max_length=1 << 16)


class Fingerprint(Loose):
    """A registered prefix: the first ``images`` samples have this dataset sha256."""

    images: int = Field(ge=1)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class GroundTruth(Loose):
    """A board's ``groundtruth/<sha256>.json``."""

    format: Literal["lossybench-groundtruth/1"] = GROUND_TRUTH_FORMAT
    dataset: str = Field(max_length=200)
    task: str = Field(max_length=200)
    fingerprints: list[Fingerprint] = Field(min_length=1, max_length=1000)
    samples: list[StoredSample] = Field(max_length=10_000_000)
    #: detection: ``{"images": [...], "annotations": [...], "categories": [...]}``
    coco: dict[str, list[dict[str, Any]]] | None = None

    def registered(self, known: KnownDataset) -> bool:
        """Whether this file was made for ``known`` (its name, sha256 and image count)."""
        return known.name == self.dataset and any(
            f.sha256 == known.sha256 and f.images == known.images for f in self.fingerprints)


def _no_pixels() -> Any:
    raise LossybenchError("the board keeps no pixels of a dataset, only its ground truth")


class GroundTruthView(Dataset):
    """The first ``images`` samples of stored ground truth, as a dataset a task can use.

    Samples carry the stored targets (detection: ``{"image_id": ...}``); their pixels
    are not kept. ``ground_truth()`` and ``categories()`` are those of the detection
    datasets (COCO instances of these images).
    """

    requires_location = False

    def __init__(self, gt: GroundTruth, images: int) -> None:
        super().__init__(None)
        self.name = gt.dataset  # type: ignore[misc]
        self.task = gt.task  # type: ignore[misc]
        self.stored = gt.samples[:images]
        self._gt = gt
        self._coco: dict[str, Any] | None = None

    def samples(self) -> Iterator[Sample]:
        for s in self.stored:
            target = s.model_dump(exclude={"id"}, exclude_none=True)
            yield Sample(id=s.id, source=_no_pixels, target=target)

    def __len__(self) -> int:
        return len(self.stored)

    def ground_truth(self) -> dict[str, Any] | None:
        if self._gt.coco is None:
            return None
        if self._coco is None:
            ids = {s.image_id for s in self.stored}
            coco = self._gt.coco
            self._coco = {
                "images": [im for im in coco.get("images", []) if im.get("id") in ids],
                "annotations": [a for a in coco.get("annotations", [])
                                if a.get("image_id") in ids],
                "categories": list(coco.get("categories", [])),
            }
        return self._coco

    def categories(self) -> list[dict[str, Any]] | None:
        coco = self._gt.coco
        return list(coco.get("categories", [])) if coco is not None else None


def verify(report: Report, r: RunResult, known: KnownDataset, gt: GroundTruth) -> None:
    """Check ``report``'s records against ``gt``; recompute what needed the dataset.

    Problems go into ``report``. Afterwards ``report.task`` is None when the metrics are
    still not recomputed from the records (a task that cannot use this ground truth).
    """
    records = report.records or []
    name = clean_text(known.name, 80)
    if gt.task != r.task.name:
        report.add("$.task.name", f"the ground truth registered for dataset {name!r} is for "
                   f"task {clean_text(gt.task, 40)!r}, this result is for "
                   f"{clean_text(r.task.name, 40)!r}")
        return
    stored = {s.id: s for s in gt.samples[: known.images or 0]}
    images = {rec["image"] for rec in records}
    extra, missing = sorted(images - stored.keys()), sorted(stored.keys() - images)
    if extra:
        report.add("$.dataset", f"the records hold {_some(extra)}, not among the "
                   f"{len(stored)} images of dataset {name!r} registered on this board")
    if missing:
        report.add("$.dataset", f"the records hold no record of {_some(missing)} of the "
                   f"{len(stored)} images of dataset {name!r} registered on this board")
    if extra or missing:
        return
    if gt.task == "detection":
        _check_detection(report, records, stored)
    elif gt.task == "segmentation":
        _check_segmentation(report, records, stored)
    if report.problems or report.task is not None or report.task_cls is None:
        return
    # the records' metrics need the dataset: give the task its stored ground truth
    try:
        report.task = report.task_cls(GroundTruthView(gt, known.images or 0))
    except Exception:
        report.task = None
        return
    report.notes[:] = [n for n in report.notes if not n.startswith(NOT_RECOMPUTED)]
    recompute_from_records(report, r, records, against="the registered ground truth")


def _some(ids: list[str]) -> str:
    shown = ", ".join(repr(clean_text(i, 60)) for i in ids[:SHOW])
    more = f" and {len(ids) - SHOW} more" if len(ids) > SHOW else ""
    return f"image{'s' if len(ids) > 1 else ''} {shown}{more}"


def _where(rec: dict[str, Any]) -> str:
    if rec.get("codec") is None:
        return f"image {clean_text(rec['image'], 60)!r} (clean)"
    return (f"image {clean_text(rec['image'], 60)!r} ({clean_text(rec['codec'], 60)!r} at "
            f"point {rec.get('point'):g})")


def _report_some(report: Report, path: str, problems: list[str]) -> None:
    for p in problems[:SHOW]:
        report.add(path, p)
    if len(problems) > SHOW:
        report.add(path, f"… and {len(problems) - SHOW} more records disagree with the "
                   "registered ground truth")


def _check_detection(
    report: Report, records: list[dict[str, Any]], stored: dict[str, StoredSample]
) -> None:
    """Every outcome is scored as its own image's COCO id (not another image's boxes)."""
    problems = []
    for rec in records:
        out = rec.get("outcome")
        if out is None:
            continue
        got, want = out.get("image_id"), stored[rec["image"]].image_id
        if type(got) is not int or got != want:
            shown = clean_text(repr(got), 40)
            problems.append(f"{_where(rec)}: its outcome is scored as COCO image_id {shown}; "
                            f"the registered ground truth gives this image image_id {want}")
    _report_some(report, "$.records", problems)


def _check_segmentation(
    report: Report, records: list[dict[str, Any]], stored: dict[str, StoredSample]
) -> None:
    """Every confusion matrix's ground-truth side is the image's stored mask histogram."""
    problems = []
    for rec in records:
        out = rec.get("outcome")
        if out is None:
            continue
        want = stored[rec["image"]]
        counts = _row_sums(out.get("confusion"))
        if counts is None:
            problems.append(f"{_where(rec)}: its outcome is not a confusion matrix of "
                            "[ground truth, prediction, count] rows")
            continue
        pixels = out.get("pixels")
        if type(pixels) is not int or pixels != want.pixels:
            problems.append(f"{_where(rec)}: its outcome scores {clean_text(repr(pixels), 40)} "
                            f"pixels; the registered mask has {want.pixels}")
            continue
        expect = dict(want.classes or [])
        if counts != expect:
            k = min(c for c in set(counts) | set(expect) if counts.get(c) != expect.get(c))
            problems.append(f"{_where(rec)}: its confusion counts {counts.get(k, 0)} pixels of "
                            f"class {k}; the registered mask has {expect.get(k, 0)}")
    _report_some(report, "$.records", problems)


def _row_sums(rows: Any) -> dict[int, int] | None:
    """Pixels per ground-truth class of a sparse confusion, or None when it is not one."""
    if not isinstance(rows, list):
        return None
    out: dict[int, int] = {}
    for row in rows:
        if not (isinstance(row, list) and len(row) == 3
                and all(type(v) is int for v in row)):
            return None
        out[row[0]] = out.get(row[0], 0) + row[2]
    return {k: v for k, v in out.items() if v}


def needs_ground_truth(task: str) -> bool:
    """Whether a result of ``task`` is verified only against stored ground truth."""
    return task in GROUND_TRUTH_TASKS
