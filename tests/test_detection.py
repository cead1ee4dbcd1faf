"""COCO datasets and the detection task, checked against pycocotools run directly.

The handmade COCO sets use real image files (crops of scikit-image's astronaut) so the
dataset's file checks, fingerprint and a full ``bench run`` path are exercised. AP
values are either derived by hand in the test or compared with a ``COCOeval`` that
reads the same JSON file from disk, independently of our code.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from lossybench.dataset import Dataset, Sample
from lossybench.errors import DatasetError, LossybenchError
from lossybench.image import load_image
from lossybench.plugins.datasets.coco import CocoDataset
from lossybench.plugins.datasets.package_photos import photo_path
from lossybench.plugins.tasks.detection import MAX_DETS, DetectionTask

NAMES = ("map", "ap50", "ap75", "aps", "apm", "apl")

CATEGORIES = [
    {"id": 1, "name": "person", "supercategory": "person"},
    {"id": 3, "name": "car", "supercategory": "vehicle"},
    {"id": 5, "name": "dog", "supercategory": "animal"},  # no boxes: AP undefined, skipped
]
# (file, (top, left), (width, height)); crops of astronaut.png (512 x 512)
IMAGES = [
    ("a.png", (0, 0), (160, 120)),
    ("b.png", (100, 50), (200, 200)),
    ("c.png", (300, 300), (100, 80)),  # no annotations: every detection is a false positive
]
ANNOTATIONS = [
    # image 1: a large person and a small car
    {"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 100, 100]},
    {"id": 2, "image_id": 1, "category_id": 3, "bbox": [120, 20, 30, 30]},
    # image 2: two medium persons, a small car and a crowd region
    {"id": 3, "image_id": 2, "category_id": 1, "bbox": [20, 30, 50, 40]},
    {"id": 4, "image_id": 2, "category_id": 1, "bbox": [100, 100, 80, 90]},
    {"id": 5, "image_id": 2, "category_id": 3, "bbox": [5, 150, 20, 20]},
    {"id": 6, "image_id": 2, "category_id": 1, "bbox": [0, 0, 200, 25], "iscrowd": 1},
]


def write_coco(
    folder: Path,
    images: list[tuple[str, tuple[int, int], tuple[int, int]]] = IMAGES,
    annotations: list[dict[str, Any]] = ANNOTATIONS,
    categories: list[dict[str, Any]] = CATEGORIES,
    ann_name: str = "annotations.json",
    image_dir: str = "",
    complete: bool = True,
) -> Path:
    """Write image crops and a COCO JSON; ``complete`` adds area/iscrowd as COCO does."""
    photo = load_image(photo_path("astronaut"))
    (folder / image_dir).mkdir(parents=True, exist_ok=True)
    for name, (top, left), (w, h) in images:
        Image.fromarray(photo[top : top + h, left : left + w]).save(folder / image_dir / name)
    anns = copy.deepcopy(annotations)
    if complete:
        for a in anns:
            if len(a["bbox"]) == 4:
                a.setdefault("area", a["bbox"][2] * a["bbox"][3])
            a.setdefault("iscrowd", 0)
    data = {
        "info": {"description": "handmade"},
        "images": [
            {"id": i + 1, "file_name": name, "width": w, "height": h}
            for i, (name, _, (w, h)) in enumerate(images)
        ],
        "annotations": anns,
        "categories": categories,
    }
    path = folder / ann_name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def prediction(dets: list[tuple[list[float], float, int]]) -> dict[str, np.ndarray]:
    """``[(xywh, score, label), ...]`` → the model format (xyxy float arrays)."""
    boxes = np.array([[x, y, x + w, y + h] for (x, y, w, h), _, _ in dets], dtype=np.float64)
    return {
        "boxes": boxes.reshape(-1, 4),
        "scores": np.array([s for _, s, _ in dets], dtype=np.float64),
        "labels": np.array([c for _, _, c in dets], dtype=np.int64),
    }


def outcomes(
    task: DetectionTask, dataset: Dataset, dets: dict[str, list[tuple[list[float], float, int]]]
) -> list[dict[str, Any]]:
    """Outcomes of every sample (no detections where ``dets`` has none), JSON round-tripped."""
    out = [task.outcome(s, prediction(dets.get(s.id, []))) for s in dataset.samples()]
    return json.loads(json.dumps(out, allow_nan=False))


def direct_cocoeval(
    ann_path: Path,
    dataset: Dataset,
    dets: dict[str, list[tuple[list[float], float, int]]],
    img_ids: list[int] | None = None,
) -> dict[str, float]:
    """pycocotools on its own, reading the JSON file: the reference numbers."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    ids = {s.id: s.target["image_id"] for s in dataset.samples()}
    results = [
        {"image_id": ids[name], "bbox": list(map(float, box)), "score": score, "category_id": c}
        for name, items in dets.items()
        for box, score, c in items
    ]
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(ann_path))
        dt = gt.loadRes(results)
        ev = COCOeval(gt, dt, iouType="bbox")
        if img_ids is not None:
            ev.params.imgIds = img_ids
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return dict(zip(NAMES, (float(v) for v in ev.stats[:6]), strict=True))


def assert_matches(ours: dict[str, float], ref: dict[str, float]) -> None:
    for name in NAMES:
        if ref[name] < 0:
            assert name not in ours, f"{name} is undefined in pycocotools but reported"
        else:
            assert ours[name] == pytest.approx(ref[name], abs=1e-6), name


@pytest.fixture(scope="module")
def coco_set(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, CocoDataset, DetectionTask]:
    ann = write_coco(tmp_path_factory.mktemp("coco"))
    dataset = CocoDataset(str(ann))
    task = DetectionTask(dataset)
    task.prepare()
    return ann, dataset, task


# Imperfect detections: shifts, a duplicate, a wrong class, an unknown category id,
# a false positive on the image without boxes, one detection on the crowd region.
MIXED = {
    "a.png": [
        ([12, 8, 100, 104], 0.9, 1),
        ([10, 10, 100, 100], 0.3, 1),  # duplicate of the person at a lower score
        ([125, 22, 30, 30], 0.8, 3),
        ([60, 60, 40, 40], 0.7, 3),
        ([0, 0, 20, 20], 0.95, 7),  # a category id the dataset does not define
    ],
    "b.png": [
        ([20, 30, 50, 40], 0.6, 1),
        ([110, 95, 80, 90], 0.85, 1),
        ([5, 150, 20, 20], 0.5, 1),  # right box, wrong class
        ([2, 2, 190, 20], 0.99, 1),  # on the crowd region: ignored, not a false positive
    ],
    "c.png": [([10, 10, 50, 50], 0.75, 1)],
}


# -- the evaluator ---------------------------------------------------------------------
def test_perfect_detections_score_one(coco_set: tuple[Path, CocoDataset, DetectionTask]) -> None:
    ann, dataset, task = coco_set
    perfect = {"a.png": [], "b.png": []}
    for a in ANNOTATIONS:
        if not a.get("iscrowd"):
            name = IMAGES[a["image_id"] - 1][0]
            perfect[name].append((a["bbox"], 0.9, a["category_id"]))
    got = task.aggregate(outcomes(task, dataset, perfect))
    assert got == pytest.approx({name: 1.0 for name in NAMES}, abs=1e-12)
    assert_matches(got, direct_cocoeval(ann, dataset, perfect))


def test_mixed_detections_match_pycocotools(
    coco_set: tuple[Path, CocoDataset, DetectionTask],
) -> None:
    ann, dataset, task = coco_set
    got = task.aggregate(outcomes(task, dataset, MIXED))
    ref = direct_cocoeval(ann, dataset, MIXED)
    assert_matches(got, ref)
    assert 0.0 < got["map"] < 1.0


def test_subset_is_scored_against_its_own_ground_truth(
    coco_set: tuple[Path, CocoDataset, DetectionTask],
) -> None:
    ann, dataset, task = coco_set
    subset = [o for o in outcomes(task, dataset, MIXED) if o["image_id"] in (2, 3)]
    assert_matches(task.aggregate(subset), direct_cocoeval(ann, dataset, MIXED, img_ids=[2, 3]))


def test_aggregate_is_order_independent(
    coco_set: tuple[Path, CocoDataset, DetectionTask],
) -> None:
    _, dataset, task = coco_set
    outs = outcomes(task, dataset, MIXED)
    expected = task.aggregate(outs)
    rng = random.Random(0)
    for _ in range(3):
        shuffled = copy.deepcopy(outs)
        rng.shuffle(shuffled)
        assert task.aggregate(shuffled) == expected
    # a fresh task (no prepare) on the same records: a pure function of the outcomes
    assert DetectionTask(dataset).aggregate(outs) == expected


def test_outcome_order_within_an_image_does_not_matter(
    coco_set: tuple[Path, CocoDataset, DetectionTask],
) -> None:
    _, dataset, task = coco_set
    reversed_dets = {k: list(reversed(v)) for k, v in MIXED.items()}
    a = outcomes(task, dataset, MIXED)
    b = outcomes(task, dataset, reversed_dets)
    assert a == b  # detections are stored highest score first
    assert a[0]["detections"][0] == [0.0, 0.0, 20.0, 20.0, 0.95, 7]


def test_no_detections_scores_zero(coco_set: tuple[Path, CocoDataset, DetectionTask]) -> None:
    _, dataset, task = coco_set
    got = task.aggregate(outcomes(task, dataset, {}))
    assert got == {name: 0.0 for name in NAMES}


def test_undefined_metrics_are_left_out(coco_set: tuple[Path, CocoDataset, DetectionTask]) -> None:
    _, dataset, task = coco_set
    outs = outcomes(task, dataset, MIXED)
    # image c has no ground truth at all: nothing is defined
    assert task.aggregate([o for o in outs if o["image_id"] == 3]) == {}
    # image a has a large person and a small car, no medium box
    got = task.aggregate([o for o in outs if o["image_id"] == 1])
    assert set(got) == {"map", "ap50", "ap75", "aps", "apl"}
    assert task.aggregate([]) == {}


def test_detections_are_capped_at_100_by_score(
    coco_set: tuple[Path, CocoDataset, DetectionTask],
) -> None:
    _, dataset, task = coco_set
    sample = next(dataset.samples())
    dets = [([float(i), 0.0, 10.0, 10.0], i / 200, 1) for i in range(150)]
    rec = task.outcome(sample, prediction(dets))
    assert len(rec["detections"]) == MAX_DETS
    assert [d[4] for d in rec["detections"]] == [i / 200 for i in range(149, 49, -1)]


def test_full_precision_is_kept(coco_set: tuple[Path, CocoDataset, DetectionTask]) -> None:
    _, dataset, task = coco_set
    sample = next(dataset.samples())
    pred = {
        "boxes": np.array([[1 / 3, 2 / 7, 50.123456789, 60.5]], dtype=np.float32),
        "scores": np.array([0.123456789], dtype=np.float32),
        "labels": np.array([1]),
    }
    ((x, _, w, _, score, label),) = json.loads(json.dumps(task.outcome(sample, pred)))["detections"]
    assert x == float(np.float32(1 / 3))
    assert w == float(np.float32(50.123456789)) - float(np.float32(1 / 3))
    assert score == float(np.float32(0.123456789))
    assert label == 1 and isinstance(label, int)


def test_non_finite_detections_are_dropped(
    coco_set: tuple[Path, CocoDataset, DetectionTask],
) -> None:
    _, dataset, task = coco_set
    sample = next(dataset.samples())
    pred = prediction([([1, 1, 5, 5], 0.5, 1), ([1, 1, 5, 5], 0.4, 1)])
    pred["boxes"][1, 2] = np.nan
    rec = task.outcome(sample, pred)
    assert len(rec["detections"]) == 1
    json.dumps(rec, allow_nan=False)


# -- hand-derived AP values -------------------------------------------------------------
def one_image_task(tmp_path: Path, boxes: list[list[float]]) -> tuple[CocoDataset, DetectionTask]:
    anns = [{"id": i + 1, "image_id": 1, "category_id": 1, "bbox": b} for i, b in enumerate(boxes)]
    ann = write_coco(tmp_path, IMAGES[1:2], anns, CATEGORIES[:1])
    dataset = CocoDataset(str(ann))
    return dataset, DetectionTask(dataset)


def test_shifted_box_ap_from_its_iou(tmp_path: Path) -> None:
    # ground truth 100 x 100 (large); the detection 100 x 78 inside it: IoU 0.78.
    # It matches at IoU thresholds .50 ... .75 (6 of 10) and misses at .80 ... .95.
    dataset, task = one_image_task(tmp_path, [[0, 0, 100, 100]])
    got = task.aggregate(outcomes(task, dataset, {"b.png": [([0, 0, 100, 78], 0.9, 1)]}))
    assert got == pytest.approx({"map": 0.6, "ap50": 1.0, "ap75": 1.0, "apl": 0.6}, abs=1e-12)


def test_false_positive_ranked_first_gives_two_thirds(tmp_path: Path) -> None:
    # two boxes; detections ranked FP, TP, TP: precision 0, 1/2, 2/3 at recall 0, .5, 1.
    # COCO's interpolated precision is then 2/3 at every recall level: AP = 2/3.
    dataset, task = one_image_task(tmp_path, [[10, 10, 50, 50], [100, 100, 60, 60]])
    dets = [([150, 10, 40, 40], 0.9, 1), ([10, 10, 50, 50], 0.8, 1), ([100, 100, 60, 60], 0.7, 1)]
    got = task.aggregate(outcomes(task, dataset, {"b.png": dets}))
    assert got["map"] == pytest.approx(2 / 3, abs=1e-12)
    assert got["ap50"] == pytest.approx(2 / 3, abs=1e-12)
    # the same false positive ranked last costs nothing: recall is complete before it
    dets_last = [dets[1], dets[2], ([150, 10, 40, 40], 0.1, 1)]
    assert task.aggregate(outcomes(task, dataset, {"b.png": dets_last}))["map"] == 1.0


# -- task preparation --------------------------------------------------------------------
def test_prepare_reports_the_label_space(coco_set: tuple[Path, CocoDataset, DetectionTask]) -> None:
    _, dataset, _ = coco_set
    details = DetectionTask(dataset).prepare()
    assert details["num_classes"] == 6  # labels are category ids: ids up to 5 need 6 outputs
    assert details["categories"] == 3
    assert details["annotations"] == len(ANNOTATIONS)


def test_prepare_needs_ground_truth() -> None:
    class Photos(Dataset):
        name = "photos"

        def samples(self):  # type: ignore[no-untyped-def]
            yield Sample("x", source=str(photo_path("astronaut")))

    with pytest.raises(DatasetError, match="no box annotations"):
        DetectionTask(Photos()).prepare()


def test_aggregate_rejects_foreign_or_repeated_images(
    coco_set: tuple[Path, CocoDataset, DetectionTask],
) -> None:
    _, dataset, task = coco_set
    outs = outcomes(task, dataset, {})
    with pytest.raises(LossybenchError, match="appears twice"):
        task.aggregate([*outs, outs[0]])
    with pytest.raises(LossybenchError, match="not in the ground truth"):
        task.aggregate([{"image_id": 999, "detections": []}])


def test_aggregate_leaves_the_dataset_dict_untouched(
    coco_set: tuple[Path, CocoDataset, DetectionTask],
) -> None:
    _, dataset, task = coco_set
    before = copy.deepcopy(dataset.ground_truth())
    task.aggregate(outcomes(task, dataset, MIXED))
    assert dataset.ground_truth() == before


# -- the dataset -------------------------------------------------------------------------
def test_dataset_samples_categories_and_registry(
    coco_set: tuple[Path, CocoDataset, DetectionTask], registry: Any
) -> None:
    _, dataset, _ = coco_set
    samples = list(dataset.samples())
    assert [s.id for s in samples] == ["a.png", "b.png", "c.png"]
    assert samples[1].target == {"image_id": 2, "width": 200, "height": 200}
    assert samples[1].image().shape == (200, 200, 3)
    assert len(dataset) == 3
    assert dataset.categories() == [
        {"id": 1, "name": "person"},
        {"id": 3, "name": "car"},
        {"id": 5, "name": "dog"},
    ]
    assert dataset.info()["images"] == 3
    assert registry.get("datasets", "coco").obj is CocoDataset
    assert registry.get("tasks", "detection").obj is DetectionTask
    assert CocoDataset.task == "detection"


def test_missing_area_and_iscrowd_default_like_coco(tmp_path: Path) -> None:
    ann = write_coco(tmp_path, complete=False)
    gt = CocoDataset(str(ann)).ground_truth()
    first = gt["annotations"][0]
    assert first["area"] == 100 * 100 and first["iscrowd"] == 0
    assert gt["annotations"][5]["iscrowd"] == 1


@pytest.mark.parametrize(
    ("layout", "spec"),
    [
        ("same-folder", "{root}/annotations.json"),
        ("images-subfolder", "{root}/annotations.json"),
        ("split-folder", "{root}/annotations/instances_val2017.json"),
        ("explicit", "{root}/ann/annotations.json,images={root}/pics"),
        ("explicit-bare", "{root}/ann/annotations.json,{root}/pics"),
        ("folder", "{root}"),
        ("folder-instances", "{root}"),
    ],
)
def test_layouts(tmp_path: Path, layout: str, spec: str) -> None:
    root = tmp_path / "coco"
    if layout == "same-folder":
        write_coco(root)
    elif layout == "images-subfolder":
        write_coco(root, image_dir="images")
    elif layout in ("split-folder", "folder-instances"):
        write_coco(root, ann_name="annotations/instances_val2017.json", image_dir="val2017")
    elif layout.startswith("explicit"):
        write_coco(root, ann_name="ann/annotations.json", image_dir="pics")
    else:
        write_coco(root, image_dir="images")
    dataset = CocoDataset(spec.format(root=root))
    assert len(dataset) == 3
    assert all(Path(str(s.source)).is_file() for s in dataset.samples())


def test_folder_with_several_annotation_files_is_ambiguous(tmp_path: Path) -> None:
    write_coco(tmp_path, ann_name="annotations/instances_val2017.json")
    write_coco(tmp_path, ann_name="annotations/instances_train2017.json")
    with pytest.raises(DatasetError, match="several annotation files"):
        CocoDataset(str(tmp_path))


def test_missing_images_are_named(tmp_path: Path) -> None:
    ann = write_coco(tmp_path)
    (tmp_path / "b.png").unlink()
    with pytest.raises(DatasetError, match=r"1 of 3 images .* missing .*b\.png"):
        CocoDataset(str(ann))


def test_missing_files_and_folders(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        CocoDataset(str(tmp_path / "nope.json"))
    with pytest.raises(DatasetError, match=r"neither annotations\.json"):
        CocoDataset(str(tmp_path))
    ann = write_coco(tmp_path)
    with pytest.raises(DatasetError, match=r"image folder .* does not exist"):
        CocoDataset(f"{ann},images={tmp_path / 'elsewhere'}")
    with pytest.raises(DatasetError, match="unknown option 'size'"):
        CocoDataset(f"{ann},size=3")


def test_bad_json_and_not_coco(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"images": [')
    with pytest.raises(DatasetError, match="not valid JSON"):
        CocoDataset(str(bad))
    bad.write_text("[]")
    with pytest.raises(DatasetError, match="not a COCO instances file"):
        CocoDataset(str(bad))
    bad.write_text('{"images": [], "categories": []}')
    with pytest.raises(DatasetError, match="no list 'annotations'"):
        CocoDataset(str(bad))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"category_id": 2}, "annotation id 1 refers to unknown category_id 2"),
        ({"image_id": 9}, "annotation id 1 refers to unknown image_id 9"),
        ({"bbox": [10, 10, -5, 20]}, "annotation id 1 has a box with negative size"),
        ({"bbox": [10, 10, 20]}, r"annotation id 1 needs 'bbox': \[x, y, width, height\]"),
        ({"id": 2}, "annotation id 2 appears twice"),
    ],
)
def test_bad_annotations(tmp_path: Path, change: dict[str, Any], message: str) -> None:
    anns = copy.deepcopy(ANNOTATIONS)
    anns[0].update(change)
    ann = write_coco(tmp_path, annotations=anns)
    with pytest.raises(DatasetError, match=message):
        CocoDataset(str(ann))


def test_image_size_must_match_the_file(tmp_path: Path) -> None:
    ann = write_coco(tmp_path)
    data = json.loads(ann.read_text())
    data["images"][0]["width"] = 320
    ann.write_text(json.dumps(data))
    with pytest.raises(DatasetError, match=r"a\.png is 160x120, the annotations say 320x120"):
        CocoDataset(str(ann))


def test_fingerprint_covers_the_annotations(tmp_path: Path) -> None:
    ann = write_coco(tmp_path)
    dataset = CocoDataset(str(ann))
    before = dataset.fingerprint()
    first_two = dataset.fingerprint(list(dataset.samples())[:2])
    assert first_two != before
    # the same content formatted differently: same hash
    ann.write_text(json.dumps(json.loads(ann.read_text()), indent=2))
    assert CocoDataset(str(ann)).fingerprint() == before
    # a moved box changes the hash of any image set that holds its image, and only those
    anns = copy.deepcopy(ANNOTATIONS)
    anns[0]["bbox"] = [11, 10, 100, 100]
    write_coco(tmp_path, annotations=anns)
    assert CocoDataset(str(ann)).fingerprint() != before
    anns = copy.deepcopy(ANNOTATIONS)
    anns[4]["bbox"] = [6, 150, 20, 20]  # image 2
    write_coco(tmp_path, annotations=anns)
    changed = CocoDataset(str(ann))
    assert changed.fingerprint(list(changed.samples())[:1]) == dataset.fingerprint(
        list(dataset.samples())[:1]
    )
    assert changed.fingerprint(list(changed.samples())[:2]) != first_two


def test_dataset_option_images(tmp_path: Path) -> None:
    ann = write_coco(tmp_path, ann_name="ann/annotations.json", image_dir="pics")
    assert len(CocoDataset(str(ann), images=str(tmp_path / "pics"))) == 3
    with pytest.raises(DatasetError, match="unknown option"):
        CocoDataset(str(ann), split="val")
    with pytest.raises(DatasetError, match="given twice"):
        CocoDataset(f"{ann},{tmp_path / 'pics'}", images=str(tmp_path / "pics"))


def test_limit_subset_keeps_the_ground_truth(
    coco_set: tuple[Path, CocoDataset, DetectionTask],
) -> None:
    from lossybench.dataset import Subset

    ann, dataset, _ = coco_set
    sub = Subset(dataset, 2)
    task = DetectionTask(sub)
    assert task.prepare()["num_classes"] == 6
    outs = outcomes(task, sub, MIXED)
    assert [o["image_id"] for o in outs] == [1, 2]
    assert_matches(task.aggregate(outs), direct_cocoeval(ann, dataset, MIXED, img_ids=[1, 2]))
    assert sub.info()["sha256"] == dataset.fingerprint(list(dataset.samples())[:2])


# -- a whole run ---------------------------------------------------------------------------
@pytest.mark.slow
def test_bench_run_end_to_end(tmp_path: Path, registry: Any) -> None:
    """resolve → execute with a random torchvision detector: strict JSON records, metrics."""
    from lossybench.engine.run.config import RunConfig
    from lossybench.engine.run.execute import execute
    from lossybench.engine.run.resolve import resolve

    ann = write_coco(tmp_path / "data")
    cfg = RunConfig(
        task="detection",
        model="torchvision:fasterrcnn_mobilenet_v3_large_320_fpn",
        weights="random",
        dataset=f"coco:{ann}",
        codecs=["jpeg"],
        quality=[30],
        workers=0,
        out=str(tmp_path / "out"),
    )
    res = resolve(cfg, registry)
    assert res.task_details["num_classes"] == 6
    _, path = execute(res)
    data = json.loads(path.read_text())
    assert data["task"]["headline"] == "map"
    clean = data["clean"]["metrics"]
    assert set(clean) <= set(NAMES) and "map" in clean
    assert all(0.0 <= v <= 1.0 for v in clean.values())
    assert data["codecs"][0]["points"][0]["images"] == 3
