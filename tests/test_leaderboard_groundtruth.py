"""Ground truth on the board: detection mAP and segmentation mIoU recomputed from records.

Real results (``bench run --task detection|segmentation --limit 4``) are submitted to a
board that registered the scenes dataset from its data; the board's recomputation must
give the run's own numbers (pycocotools inside the detection task is the reference), and
forged or foreign records, tampered metrics and unregistered datasets are refused with a
sentence, never a Python exception.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from leaderboard_fixtures.factory import snapshot, write_pair
from typer.testing import CliRunner

from lossybench.leaderboard import cli as lb_cli
from lossybench.leaderboard.board import Board, BoardError
from lossybench.leaderboard.groundtruth import GroundTruthView
from lossybench.leaderboard.groundtruth_build import collect
from lossybench.leaderboard.validate import validate_file

LIMIT = 4
#: what no user message may contain: a traceback or an exception's repr
LEAKS = ("Traceback", "Error:", "AttributeError", "NoneType", "KeyError", "TypeError",
         "LossybenchError", "DatasetError")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A real detection and segmentation result (4 scenes images, JPEG at 0.3 and 1 bpp)."""
    out = tmp_path_factory.mktemp("runs")
    env = {**os.environ, "LOSSYBENCH_CACHE": str(out / "cache")}
    paths = {}
    for task in ("detection", "segmentation"):
        folder = out / task
        subprocess.run([sys.executable, "-m", "lossybench", "run", "--task", task, "--limit",
                        str(LIMIT), "--codec", "jpeg", "--bpp", "0.3,1", "--out", str(folder),
                        "--no-cache"], check=True, capture_output=True, timeout=600, env=env)
        (paths[task],) = folder.glob("*.json")
    return paths


def dataset_of(task: str) -> str:
    return f"scenes-{task}"


def board_with(tmp: Path, registry: Any, task: str, **kw: Any) -> Board:
    b = Board(tmp / "board")
    b.init(**kw)
    b.register(collect(dataset_of(task), registry, [LIMIT]))
    return b


def copy_result(src: Path, dst: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    dst.mkdir(parents=True, exist_ok=True)
    shutil.copy(src, dst / src.name)
    shutil.copy(src.with_suffix(".jsonl"), dst / src.with_suffix(".jsonl").name)
    records = [json.loads(x) for x in src.with_suffix(".jsonl").read_text().splitlines()]
    return json.loads(src.read_text()), records


def records_text(records: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, sort_keys=True) + "\n" for r in records)


def messages(outcome: Any) -> list[str]:
    out = [p.line() for rep in outcome.reports for p in rep.problems]
    return out + [n for rep in outcome.reports for n in rep.notes]


def assert_sentences(msgs: list[str]) -> None:
    for m in msgs:
        assert not any(leak in m for leak in LEAKS), m


@pytest.mark.parametrize("task", ["detection", "segmentation"])
def test_registering_stores_ground_truth_under_the_runs_fingerprint(
    tmp_path: Path, registry: Any, runs: dict[str, Path], task: str
) -> None:
    b = board_with(tmp_path, registry, task)
    (known,) = b.index().datasets
    stated = json.loads(runs[task].read_text())["dataset"]
    assert (known.name, known.sha256, known.images) == (stated["name"], stated["sha256"], LIMIT)
    assert known.ground_truth is not None and known.ground_truth.task == task
    gt = b.ground_truth(known)
    assert gt is not None and [s.id for s in gt.samples] == ["000000", "000001", "000002",
                                                              "000003"]
    if task == "detection":
        assert gt.coco is not None and len(gt.coco["images"]) == LIMIT
        assert not any("segmentation" in a for a in gt.coco["annotations"])
    else:  # the stored histogram is the ground-truth side of the run's own confusions
        clean = {r["image"]: r["outcome"] for r in map(json.loads, runs[task].with_suffix(
            ".jsonl").read_text().splitlines()[1:]) if r["codec"] is None}
        for s in gt.samples:
            sums: dict[int, int] = {}
            for g, _, n in clean[s.id]["confusion"]:
                sums[g] = sums.get(g, 0) + n
            assert dict(s.classes or []) == sums and s.pixels == clean[s.id]["pixels"]
    # a hand edit of the stored ground truth is detected
    path = b.root / known.ground_truth.file
    path.write_bytes(path.read_bytes().replace(b'"id": "000001"', b'"id": "000009"'))
    with pytest.raises(BoardError, match="does not match the index"):
        b.ground_truth(known)


@pytest.mark.parametrize("task", ["detection", "segmentation"])
def test_metrics_are_recomputed_and_equal_the_runs(
    tmp_path: Path, registry: Any, runs: dict[str, Path], task: str
) -> None:
    b = board_with(tmp_path, registry, task)
    out = b.submit([runs[task]], registry, resamples=20)
    assert out.ok, messages(out)
    assert_sentences(messages(out))
    assert not any("not recomputed" in n for n in messages(out))
    assert [e.verified for e in out.accepted] == [True]
    doc = json.loads(runs[task].read_text())
    assert out.accepted[0].clean == doc["clean"]["metrics"]
    # the recomputation itself: the registered task on the stored ground truth gives the
    # run's numbers (for detection: pycocotools, inside the task)
    (known,) = b.index().datasets
    gt = b.ground_truth(known)
    assert gt is not None
    task_obj = registry.get("tasks", task).obj(GroundTruthView(gt, LIMIT))
    recs = [json.loads(x) for x in runs[task].with_suffix(".jsonl").read_text().splitlines()[1:]]
    clean = [r["outcome"] for r in recs if r["codec"] is None]
    assert task_obj.aggregate(clean) == pytest.approx(doc["clean"]["metrics"], rel=1e-12)
    for point in doc["codecs"][0]["points"]:
        at = [r["outcome"] for r in recs if r["codec"] == "jpeg" and r["point"] == point["target"]]
        assert task_obj.aggregate(at) == pytest.approx(point["metrics"], rel=1e-12)


@pytest.mark.parametrize("task", ["detection", "segmentation"])
def test_a_raised_metric_is_refused_naming_it_and_both_values(
    tmp_path: Path, registry: Any, runs: dict[str, Path], task: str
) -> None:
    b = board_with(tmp_path, registry, task)
    doc, _ = copy_result(runs[task], tmp_path / "sub")
    metrics = doc["clean"]["metrics"]
    # a metric no summary is computed from, so only the records can expose it
    name = next(k for k, v in sorted(metrics.items()) if k != doc["task"]["headline"]
                and v <= 0.9)
    claimed = metrics[name] + 0.1
    metrics[name] = claimed
    path = tmp_path / "sub" / runs[task].name
    write_pair(path, doc)
    before = snapshot(b.root)
    out = b.submit([path], registry, resamples=0)
    assert not out.ok and snapshot(b.root) == before
    msgs = messages(out)
    assert_sentences(msgs)
    (line,) = [m for m in msgs if f"$.clean.metrics.{name}" in m]
    assert f"{claimed:.12g}" in line and f"{metrics[name] - 0.1:.12g}" in line
    if task == "detection":  # only the board's ground truth can recompute it
        assert "the records and the registered ground truth give" in line
        rep = validate_file(path, registry)
        assert rep.ok and any("not recomputed" in n for n in rep.notes)
        assert_sentences(rep.notes)


@pytest.mark.parametrize("task", ["detection", "segmentation"])
def test_a_result_on_other_data_is_refused(
    tmp_path: Path, registry: Any, runs: dict[str, Path], task: str
) -> None:
    b = board_with(tmp_path, registry, task)
    doc, _ = copy_result(runs[task], tmp_path / "sub")
    doc["dataset"]["sha256"] = "0" * 64
    path = tmp_path / "sub" / runs[task].name
    write_pair(path, doc)
    out = b.submit([path], registry, resamples=0)
    assert not out.ok
    assert_sentences(messages(out))
    assert any("$.dataset.sha256" in m and "is not registered on this board" in m
               for m in messages(out))


@pytest.mark.parametrize("task", ["detection", "segmentation"])
def test_records_of_other_images_are_refused(
    tmp_path: Path, registry: Any, runs: dict[str, Path], task: str
) -> None:
    b = board_with(tmp_path, registry, task)
    doc, records = copy_result(runs[task], tmp_path / "sub")
    for r in records[1:]:
        if r["image"] == "000003":
            r["image"] = "000099"
    path = tmp_path / "sub" / runs[task].name
    write_pair(path, doc, records_text(records))
    assert validate_file(path, registry).ok  # nothing but the registered data tells
    out = b.submit([path], registry, resamples=0)
    assert not out.ok
    msgs = messages(out)
    assert_sentences(msgs)
    assert any("image '000099', not among the 4 images" in m for m in msgs)
    assert any("no record of image '000003'" in m for m in msgs)


def test_detections_scored_as_another_image_are_refused(
    tmp_path: Path, registry: Any, runs: dict[str, Path]
) -> None:
    b = board_with(tmp_path, registry, "detection")
    doc, records = copy_result(runs["detection"], tmp_path / "sub")
    for r in records[1:]:  # image 000001 claims image 000000's COCO id
        if r["image"] == "000001" and r.get("outcome"):
            r["outcome"]["image_id"] = 1
    path = tmp_path / "sub" / runs["detection"].name
    write_pair(path, doc, records_text(records))
    out = b.submit([path], registry, resamples=0)
    assert not out.ok
    msgs = messages(out)
    assert_sentences(msgs)
    assert any("image '000001' (clean): its outcome is scored as COCO image_id 1; the "
               "registered ground truth gives this image image_id 2" in m for m in msgs)


def test_confusions_moved_between_images_are_refused(
    tmp_path: Path, registry: Any, runs: dict[str, Path]
) -> None:
    """Swapping two images' clean confusions keeps every metric: only the masks tell."""
    b = board_with(tmp_path, registry, "segmentation")
    doc, records = copy_result(runs["segmentation"], tmp_path / "sub")
    clean = {r["image"]: r for r in records[1:] if r["codec"] is None}
    a, c = clean["000000"], clean["000001"]
    a["outcome"], c["outcome"] = c["outcome"], a["outcome"]
    path = tmp_path / "sub" / runs["segmentation"].name
    write_pair(path, doc, records_text(records))
    assert validate_file(path, registry).ok
    out = b.submit([path], registry, resamples=0)
    assert not out.ok
    msgs = messages(out)
    assert_sentences(msgs)
    assert any("image '000000' (clean): its confusion counts" in m
               and "the registered mask has" in m for m in msgs)


@pytest.mark.parametrize("task", ["detection", "segmentation"])
def test_without_stored_ground_truth_refused_or_marked_unverified(
    tmp_path: Path, registry: Any, runs: dict[str, Path], task: str
) -> None:
    sha = json.loads(runs[task].read_text())["dataset"]["sha256"]
    b = Board(tmp_path / "board")
    b.init()
    b.add_dataset(dataset_of(task), sha, LIMIT)  # by name and sha256 only
    out = b.submit([runs[task]], registry, resamples=0)
    assert not out.ok
    msgs = messages(out)
    assert_sentences(msgs)
    assert any("registered on this board without its ground truth" in m
               and f"datasets add --board {b.root} {dataset_of(task)}[:LOCATION] --limit 4" in m
               for m in msgs)
    # --trust-dataset registers a name and sha256 only: no help for these tasks
    out = Board(tmp_path / "other").submit([runs[task]], registry, trust_dataset=True)
    assert not out.ok and not (tmp_path / "other").exists()
    assert any("--trust-dataset registers only its name and sha256" in m for m in messages(out))
    # a board that takes unverified entries enters it, marked, when asked to
    b.init(allow_unverified=True)
    out = b.submit([runs[task]], registry, resamples=0, allow_unverified=True)
    assert out.ok and [e.verified for e in out.accepted] == [False]
    assert_sentences(messages(out))
    assert [e.verified for e in b.entries()] == [False]
    # registering the data afterwards attaches the ground truth; resubmitting verifies it
    b.register(collect(dataset_of(task), registry, [LIMIT]))
    (known,) = b.index().datasets
    assert known.ground_truth is not None and known.sha256 == sha
    out = b.submit([runs[task]], registry, resamples=0, replace=True)
    assert out.ok and [e.verified for e in b.entries()] == [True]


def test_cli_registers_from_the_data_and_keeps_registration_by_hash(
    tmp_path: Path, runs: dict[str, Path]
) -> None:
    board = str(tmp_path / "board")
    cli = CliRunner()
    res = cli.invoke(lb_cli.app, ["datasets", "add", "--board", board, "scenes-detection",
                                  "--limit", "4", "--limit", "999"])
    assert res.exit_code == 0, res.output
    sha = json.loads(runs["detection"].read_text())["dataset"]["sha256"]
    assert f"registered scenes-detection {sha} (4 images) with its detection ground truth" \
        in res.stderr
    assert "(200 images)" in res.stderr  # --limit over the size: the whole split
    listed = cli.invoke(lb_cli.app, ["datasets", "list", "--board", board]).stdout
    assert f"scenes-detection  {sha}  4 images  detection ground truth" in listed
    assert len(list((tmp_path / "board" / "groundtruth").iterdir())) == 1
    res = cli.invoke(lb_cli.app, ["submit", str(runs["detection"]), "--board", board,
                                  "--bootstrap", "0"])
    assert res.exit_code == 0, res.output
    # by name and sha256, as before; mixing the two forms is refused with a sentence
    res = cli.invoke(lb_cli.app, ["datasets", "add", "--board", board, "imagenet-samples",
                                  "a" * 64, "--images", "20"])
    assert res.exit_code == 0 and "name and sha256 only" in res.stderr
    for args in (["scenes-detection", "a" * 64, "--limit", "4"],
                 ["scenes-detection", "--images", "4"], ["no-such-dataset"],
                 ["scenes-detection", "--limit", "0"]):
        res = cli.invoke(lb_cli.app, ["datasets", "add", "--board", board, *args])
        assert res.exit_code == 2, (args, res.output)
        assert_sentences([res.output])
