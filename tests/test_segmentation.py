"""Segmentation task and mask datasets: hand-computed metrics, mask rules, layouts, errors.

Datasets are built in ``tmp_path`` from crops of real photos shipped in packages, with
small hand-made masks; expected numbers are worked out by hand in the comments.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from lossybench.dataset import Dataset, Sample
from lossybench.errors import DatasetError, LossybenchError
from lossybench.image import load_image
from lossybench.plugins.datasets.package_photos import photo_path
from lossybench.plugins.datasets.segmentation_masks import (
    ADE20K_CLASSES,
    VOC_CLASSES,
    Ade20k,
    GenericMasks,
    Voc,
)
from lossybench.plugins.tasks.segmentation import SegmentationTask, read_mask

# -- helpers ---------------------------------------------------------------------------


def voc_palette() -> list[int]:
    """The VOC colour map (bit-interleaved), so palette colours differ from indices."""
    pal = []
    for i in range(256):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        pal += [r, g, b]
    return pal


def save_mask(path: Path, arr: np.ndarray, mode: str = "L") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.fromarray(np.asarray(arr, dtype=np.uint8), "L")
    if mode == "P":
        img = img.convert("P")  # keeps the values as indices
        img.putpalette(voc_palette())
    img.save(path)
    return path


def save_crop(path: Path, photo: str, h: int, w: int, y: int = 100, x: int = 100) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    crop = load_image(photo_path(photo))[y : y + h, x : x + w]
    Image.fromarray(crop).save(path, **({"quality": 95} if path.suffix == ".jpg" else {}))
    return path


class ArrayDataset(Dataset):
    """In-memory masks written to ``tmp`` on demand: for metric tests without a layout."""

    name = "arrays"
    task = "segmentation"

    def __init__(self, tmp: Path, masks: list[np.ndarray], k: int, ignore: int = 255,
                 reduce_zero: bool = False) -> None:
        super().__init__(str(tmp))
        self.k = k
        self.items = []
        for i, m in enumerate(masks):
            p = save_mask(tmp / f"m{i}.png", m)
            h, w = m.shape

            def image(h: int = h, w: int = w) -> np.ndarray:
                return np.zeros((h, w, 3), np.uint8)

            target = {"mask": str(p), "ignore_index": ignore, "reduce_zero_label": reduce_zero}
            self.items.append(Sample(id=f"m{i}", source=image, target=target,
                                     meta={"target_files": [str(p)]}))

    def samples(self):
        yield from self.items

    def categories(self) -> list[dict[str, Any]]:
        return [{"id": i, "name": f"c{i}"} for i in range(self.k)]


def score(tmp: Path, gts: list[np.ndarray], preds: list[np.ndarray], k: int,
          **kw: Any) -> tuple[dict[str, float], list[dict[str, Any]]]:
    ds = ArrayDataset(tmp, gts, k, **kw)
    task = SegmentationTask(ds)
    task.prepare()
    outs = [task.outcome(s, np.asarray(p)) for s, p in zip(ds.samples(), preds, strict=True)]
    return task.aggregate(outs), outs


# The worked example: 3 classes, 4×4.
GT = np.array([[0, 0, 1, 1],
               [0, 0, 1, 1],
               [2, 2, 2, 2],
               [2, 2, 2, 2]])
PRED = np.array([[0, 1, 1, 1],
                 [0, 0, 1, 1],
                 [2, 2, 0, 2],
                 [2, 2, 2, 1]])
# confusion (rows gt, cols pred): [[3,1,0],[0,4,0],[1,1,6]]
# IoU0 = 3/(4+4-3) = 3/5; IoU1 = 4/(4+6-4) = 2/3; IoU2 = 6/(8+6-6) = 3/4
# mIoU = (3/5 + 2/3 + 3/4)/3 = 121/180; pixel acc = 13/16; mean acc = (3/4+1+3/4)/3 = 5/6


# -- metrics ---------------------------------------------------------------------------


def test_hand_computed_confusion(tmp_path: Path) -> None:
    m, outs = score(tmp_path, [GT], [PRED], 3)
    assert sorted(map(tuple, outs[0]["confusion"])) == [
        (0, 0, 3), (0, 1, 1), (1, 1, 4), (2, 0, 1), (2, 1, 1), (2, 2, 6)
    ]
    assert outs[0]["pixels"] == 16
    assert m["miou"] == pytest.approx(121 / 180)
    assert m["pixel_accuracy"] == pytest.approx(13 / 16)
    assert m["mean_accuracy"] == pytest.approx(5 / 6)
    assert set(m) == set(SegmentationTask.metrics)


def test_outcome_is_compact_json(tmp_path: Path) -> None:
    m, outs = score(tmp_path, [GT], [PRED.astype(np.uint8)], 3)
    text = json.dumps(outs, allow_nan=False)
    assert SegmentationTask(ArrayDataset(tmp_path, [GT], 3)).aggregate(json.loads(text)) == m


def test_ignore_index_pixels_are_excluded(tmp_path: Path) -> None:
    gt = GT.copy()
    gt[0, :] = 255  # four ignored pixels: (0,0)=0 (0,1)=0 (0,2)=1 (0,3)=1
    pred = PRED.copy()
    pred[0, :] = 2  # wrong everywhere, but ignored
    m, outs = score(tmp_path, [gt], [pred], 3)
    assert outs[0]["pixels"] == 12
    # remaining confusion: [[2,0,0],[0,2,0],[1,1,6]]
    # IoU0 = 2/(2+3-2) = 2/3; IoU1 = 2/(2+3-2) = 2/3; IoU2 = 6/8
    assert m["miou"] == pytest.approx((2 / 3 + 2 / 3 + 3 / 4) / 3)
    assert m["pixel_accuracy"] == pytest.approx(10 / 12)


def test_reduce_zero_label_ade20k_rule(tmp_path: Path) -> None:
    raw = np.array([[0, 1], [2, 3]])  # 0 = "other" → ignored; 1..3 → classes 0..2
    pred = np.array([[2, 0], [1, 0]])
    m, outs = score(tmp_path, [raw], [pred], 3, reduce_zero=True)
    assert outs[0]["pixels"] == 3
    assert sorted(map(tuple, outs[0]["confusion"])) == [(0, 0, 1), (1, 1, 1), (2, 0, 1)]
    # IoU0 = 1/(1+2-1) = 1/2, IoU1 = 1, IoU2 = 0/(1+0) = 0
    assert m["miou"] == pytest.approx(0.5)
    assert m["pixel_accuracy"] == pytest.approx(2 / 3)


def test_invalid_predictions_count_as_wrong_but_not_as_false_positives(tmp_path: Path) -> None:
    gt = np.array([[0, 0], [1, 1]])
    pred = np.array([[0, 7], [1, -3]])  # 7 and -3 are no class of K=2
    m, outs = score(tmp_path, [gt], [pred.astype(np.int64)], 2)
    assert sorted(map(tuple, outs[0]["confusion"])) == [(0, -1, 1), (0, 0, 1), (1, -1, 1),
                                                        (1, 1, 1)]
    # IoU0 = 1/(2+1-1) = 1/2, IoU1 = 1/2: invalid pixels enlarge no class's prediction
    assert m["miou"] == pytest.approx(0.5)
    assert m["pixel_accuracy"] == pytest.approx(0.5)
    assert m["mean_accuracy"] == pytest.approx(0.5)


def test_class_only_predicted_counts_with_iou_zero(tmp_path: Path) -> None:
    gt = np.zeros((2, 2), int)
    pred = np.array([[0, 0], [0, 1]])
    m, _ = score(tmp_path, [gt], [pred], 2)
    # IoU0 = 3/4; class 1 has union 1 > 0 and IoU 0 → mIoU 3/8 (mmseg's nanmean)
    assert m["miou"] == pytest.approx(3 / 8)
    assert m["mean_accuracy"] == pytest.approx(3 / 4)  # only classes present in GT


def test_set_level_accumulation_not_mean_of_images(tmp_path: Path) -> None:
    gts = [np.zeros((2, 2), int), np.array([[0, 1], [1, 1]])]
    preds = [np.zeros((2, 2), int), np.ones((2, 2), int)]
    m, outs = score(tmp_path, gts, preds, 2)
    task = SegmentationTask(ArrayDataset(tmp_path / "x", gts, 2))
    per_image = [task.aggregate([o])["miou"] for o in outs]
    assert per_image == pytest.approx([1.0, 0.375])  # mean would be 0.6875
    # set confusion [[4,1],[0,3]]: IoU0 = 4/5, IoU1 = 3/4 → 0.775
    assert m["miou"] == pytest.approx(0.775)
    assert m["miou"] != pytest.approx(np.mean(per_image))


def test_aggregate_is_order_independent(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    gts = [rng.integers(0, 4, (5, 6)) for _ in range(6)]
    preds = [rng.integers(-1, 5, (5, 6)) for _ in range(6)]
    m, outs = score(tmp_path, gts, preds, 4)
    task = SegmentationTask(ArrayDataset(tmp_path / "y", gts[:1], 4))
    for seed in range(5):
        shuffled = outs[:]
        random.Random(seed).shuffle(shuffled)
        assert task.aggregate(shuffled) == m


def mmseg_reference(gts: list[np.ndarray], preds: list[np.ndarray], k: int,
                    ignore: int) -> dict[str, float]:
    """mmsegmentation's intersect_and_union + total_area_to_metrics, re-done in numpy."""
    inter, union, area_pred, area_label = (np.zeros(k) for _ in range(4))
    for gt, pred in zip(gts, preds, strict=True):
        keep = gt != ignore
        g, p = gt[keep], pred[keep]
        i = p[p == g]
        hist = [np.histogram(x, bins=k, range=(0, k - 1))[0] for x in (i, p, g)]
        # torch.histc drops values outside [min, max]; np.histogram with range does too
        inter += hist[0]
        area_pred += hist[1]
        area_label += hist[2]
    union = area_pred + area_label - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "miou": float(np.nanmean(inter / union)),
            "pixel_accuracy": float(inter.sum() / area_label.sum()),
            "mean_accuracy": float(np.nanmean(inter / area_label)),
        }


def test_matches_mmsegmentation_formulas(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    gts, preds = [], []
    for _ in range(4):
        gt = rng.integers(0, 6, (7, 9))  # class 5 never predicted, class 4 rare
        gt[rng.random(gt.shape) < 0.2] = 255
        gts.append(gt)
        pred = np.where(rng.random(gt.shape) < 0.6, gt % 255, rng.integers(0, 5, gt.shape))
        pred[rng.random(gt.shape) < 0.05] = 9  # invalid: no class of K=8
        preds.append(pred)
    m, _ = score(tmp_path, gts, preds, 8)  # classes 6, 7 absent everywhere: excluded
    ref = mmseg_reference(gts, preds, 8, 255)
    assert m == pytest.approx(ref)


def test_empty_set_scores_zero_not_nan(tmp_path: Path) -> None:
    task = SegmentationTask(ArrayDataset(tmp_path, [GT], 3))
    assert task.aggregate([]) == {"miou": 0.0, "pixel_accuracy": 0.0, "mean_accuracy": 0.0}


# -- mask reading ----------------------------------------------------------------------


def test_palette_masks_are_read_as_indices(tmp_path: Path) -> None:
    arr = np.array([[0, 1, 15], [20, 255, 3]])
    p = save_mask(tmp_path / "p.png", arr, "P")
    with Image.open(p) as img:
        assert img.mode == "P"
        assert img.convert("RGB").getpixel((1, 0)) == (128, 0, 0)  # colour ≠ index
    assert read_mask(p).tolist() == arr.tolist()
    assert read_mask(p).dtype == np.int64


def test_rgb_masks_are_refused(tmp_path: Path) -> None:
    p = tmp_path / "rgb.png"
    Image.fromarray(np.zeros((2, 2, 3), np.uint8)).save(p)
    with pytest.raises(DatasetError, match="colour-coded RGB masks are not supported"):
        read_mask(p)


def test_sixteen_bit_masks(tmp_path: Path) -> None:
    p = tmp_path / "i16.png"
    Image.fromarray(np.array([[0, 300], [1000, 2]], np.uint16)).save(p)
    assert read_mask(p).tolist() == [[0, 300], [1000, 2]]


# -- bad input -------------------------------------------------------------------------


def test_prepare_reports_label_out_of_range(tmp_path: Path) -> None:
    ds = ArrayDataset(tmp_path, [GT, np.array([[0, 5], [9, 255]])], 3)
    with pytest.raises(DatasetError, match=r"m1: label values 5, 9 outside 0..2"):
        SegmentationTask(ds).prepare()


def test_prepare_reports_mask_size_mismatch(tmp_path: Path) -> None:
    ds = ArrayDataset(tmp_path, [GT], 3)
    ds.items[0].source = lambda: np.zeros((4, 5, 3), np.uint8)
    with pytest.raises(DatasetError, match=r"m0: mask is 4x4, image is 5x4"):
        SegmentationTask(ds).prepare()


def test_prepare_reports_ignore_index_colliding_with_a_class(tmp_path: Path) -> None:
    ds = ArrayDataset(tmp_path, [GT], 3, ignore=2)
    with pytest.raises(DatasetError, match="ignore_index 2 is also a class id"):
        SegmentationTask(ds).prepare()


def test_outcome_rejects_wrong_prediction_shape_and_dtype(tmp_path: Path) -> None:
    ds = ArrayDataset(tmp_path, [GT], 3)
    task = SegmentationTask(ds)
    sample = next(ds.samples())
    with pytest.raises(LossybenchError, match=r"prediction shape \(4, 5\) differs"):
        task.outcome(sample, np.zeros((4, 5), np.int64))
    with pytest.raises(LossybenchError, match="integer class map"):
        task.outcome(sample, np.zeros((4, 4), np.float32))


# -- dataset layouts -------------------------------------------------------------------


def make_ade(root: Path, split: str = "validation") -> Path:
    base = root / "ADEChallengeData2016"
    for stem, photo, (h, w) in (("ADE_val_00000001", "coffee", (12, 16)),
                                ("ADE_val_00000002", "chelsea", (10, 14))):
        save_crop(base / "images" / split / f"{stem}.jpg", photo, h, w)
        raw = np.zeros((h, w), np.uint8)
        raw[: h // 2] = 1  # wall
        raw[h // 2 :, : w // 2] = 150  # flag
        save_mask(base / "annotations" / split / f"{stem}.png", raw)  # rest 0 = other
    return base


def test_ade20k_layout_and_perfect_prediction(tmp_path: Path, registry) -> None:
    base = make_ade(tmp_path)
    cls = registry.get("datasets", "ade20k").obj
    assert cls is Ade20k
    for loc in (tmp_path, base):
        ds = cls(str(loc))
        assert [s.id for s in ds.samples()] == ["ADE_val_00000001", "ADE_val_00000002"]
    sample = next(ds.samples())
    assert sample.target == {"mask": sample.meta["target_files"][0], "ignore_index": 255,
                             "reduce_zero_label": True}
    assert sample.image().shape == (12, 16, 3)
    cats = ds.categories()
    assert len(cats) == 150 == len(set(ADE20K_CLASSES))
    assert cats[0] == {"id": 0, "name": "wall"} and cats[149] == {"id": 149, "name": "flag"}
    task = registry.get("tasks", "segmentation").obj(ds)
    assert task.prepare() == {"num_classes": 150, "ignore_index": 255,
                              "reduce_zero_label": True}
    outs = []
    for s in ds.samples():
        pred = read_mask(s.target["mask"]) - 1  # the ideal model; "other" pixels ignored
        outs.append(task.outcome(s, np.where(pred < 0, 3, pred)))
    assert task.aggregate(outs) == {"miou": 1.0, "pixel_accuracy": 1.0, "mean_accuracy": 1.0}
    # 12x16: 96 wall + 48 flag scored, 48 "other" ignored
    assert outs[0]["pixels"] == 144


def test_ade20k_split_folder_and_option(tmp_path: Path) -> None:
    base = make_ade(tmp_path, split="training")
    with pytest.raises(DatasetError, match="not an ADE20K layout"):
        Ade20k(str(tmp_path))
    assert len(Ade20k(str(tmp_path), split="training")) == 2
    split = tmp_path / "flat"
    shutil.copytree(base / "images" / "training", split / "images")
    shutil.copytree(base / "annotations" / "training", split / "annotations")
    assert len(Ade20k(str(split))) == 2
    with pytest.raises(DatasetError, match="unknown option"):
        Ade20k(str(tmp_path), splt="training")


def make_voc(root: Path, with_lists: bool = True) -> Path:
    base = root / "VOCdevkit" / "VOC2012"
    ids = {"2007_000032": ("astronaut", 0), "2007_000033": ("rocket", 1),
           "2008_000001": ("china", 2)}
    for stem, (photo, n) in ids.items():
        save_crop(base / "JPEGImages" / f"{stem}.jpg", photo, 8, 10 + n)
        mask = np.zeros((8, 10 + n), np.uint8)
        mask[2:6, 3:7] = 15  # person
        mask[1, :] = 255  # border
        save_mask(base / "SegmentationClass" / f"{stem}.png", mask, "P")
    save_crop(base / "JPEGImages" / "2009_999999.jpg", "coffee", 8, 8)  # detection-only
    if with_lists:
        seg = base / "ImageSets" / "Segmentation"
        seg.mkdir(parents=True)
        (seg / "val.txt").write_text("2007_000033\n2007_000032\n")
        (seg / "train.txt").write_text("2008_000001\n")
    return base


def test_voc_layout_splits_and_palette(tmp_path: Path, registry) -> None:
    base = make_voc(tmp_path)
    ds = registry.get("datasets", "voc").obj(str(tmp_path))
    assert isinstance(ds, Voc)
    assert [s.id for s in ds.samples()] == ["2007_000032", "2007_000033"]
    assert [s.id for s in Voc(str(base), split="train").samples()] == ["2008_000001"]
    assert [c["name"] for c in ds.categories()] == list(VOC_CLASSES)
    assert len(VOC_CLASSES) == 21
    task = SegmentationTask(ds)
    assert task.prepare()["num_classes"] == 21
    s = next(ds.samples())
    gt = read_mask(s.target["mask"])
    assert set(np.unique(gt).tolist()) == {0, 15, 255}
    pred = np.where(gt == 255, 0, gt)
    pred[3, 3] = 0  # one person pixel missed
    m = task.aggregate([task.outcome(s, pred)])
    # 8x10 = 80 pixels - 10 border = 70 scored: person 16 (15 hit), background 54, all hit
    # and predicted 55 times: IoU_person = 15/16, IoU_bg = 54/55
    assert m["pixel_accuracy"] == pytest.approx(69 / 70)
    assert m["miou"] == pytest.approx((54 / 55 + 15 / 16) / 2)
    with pytest.raises(DatasetError, match="split file not found"):
        Voc(str(base), split="test")


def test_voc_without_lists_uses_every_mask(tmp_path: Path) -> None:
    base = make_voc(tmp_path, with_lists=False)
    ds = Voc(str(base))
    assert len(ds) == 3  # the detection-only image is not a sample
    (base / "JPEGImages" / "2008_000001.jpg").unlink()
    with pytest.raises(DatasetError, match=r"1 mask\(s\) without an image.*2008_000001"):
        Voc(str(base))


def test_voc_listed_id_without_mask(tmp_path: Path) -> None:
    base = make_voc(tmp_path)
    (base / "SegmentationClass" / "2007_000033.png").unlink()
    with pytest.raises(DatasetError, match=r"val.txt: 1 id\(s\) without a mask.*2007_000033"):
        Voc(str(base))


def make_masks(root: Path, classes: dict[str, Any] | None = None) -> Path:
    for stem, photo in (("a", "coffee"), ("b", "astronaut"), ("c", "flower")):
        save_crop(root / "images" / f"{stem}.png", photo, 6, 9)
        mask = np.zeros((6, 9), np.uint8)
        mask[:, 3:] = {"a": 1, "b": 2, "c": 4}[stem]
        mask[0, 0] = 255
        save_mask(root / "masks" / f"{stem}.png", mask, "P" if stem == "b" else "L")
    if classes is not None:
        (root / "classes.json").write_text(json.dumps(classes))
    return root


def test_generic_masks_scan_and_classes_json(tmp_path: Path, registry) -> None:
    root = make_masks(tmp_path / "scan")
    ds = registry.get("datasets", "masks").obj(str(root))
    assert isinstance(ds, GenericMasks)
    assert [c["name"] for c in ds.categories()] == [f"class_{i}" for i in range(5)]
    assert SegmentationTask(ds).prepare()["num_classes"] == 5
    root2 = make_masks(tmp_path / "json", {"classes": [f"k{i}" for i in range(7)],
                                           "ignore_index": 255})
    ds2 = GenericMasks(str(root2))
    assert len(ds2.categories()) == 7
    task = SegmentationTask(ds2)
    assert task.prepare() == {"num_classes": 7, "ignore_index": 255, "reduce_zero_label": False}
    outs = [task.outcome(s, np.where(read_mask(s.target["mask"]) == 255, 0,
                                     read_mask(s.target["mask"]))) for s in ds2.samples()]
    assert task.aggregate(outs)["miou"] == 1.0
    (root2 / "classes.json").write_text(json.dumps({"classes": ["bg", "x"]}))
    with pytest.raises(DatasetError, match=r"b: label values 2 outside 0..1"):
        SegmentationTask(GenericMasks(str(root2))).prepare()
    (root2 / "classes.json").write_text(json.dumps({"classes": ["bg"], "ignore": 0}))
    with pytest.raises(DatasetError, match="unknown key"):
        GenericMasks(str(root2))


def test_generic_masks_pairing_errors(tmp_path: Path) -> None:
    root = make_masks(tmp_path)
    (root / "masks" / "a.png").unlink()
    save_mask(root / "masks" / "zz.png", np.zeros((6, 9)))
    with pytest.raises(DatasetError) as err:
        GenericMasks(str(root))
    assert "1 image(s) without a mask" in str(err.value) and ": a;" in str(err.value)
    assert "1 mask(s) without an image" in str(err.value) and "zz" in str(err.value)
    with pytest.raises(DatasetError, match="no such directory"):
        GenericMasks(str(tmp_path / "nowhere"))


def test_many_missing_masks_are_summarised(tmp_path: Path) -> None:
    root = make_masks(tmp_path)
    for i in range(8):
        save_crop(root / "images" / f"extra{i}.png", "coffee", 4, 4)
    with pytest.raises(DatasetError, match=r"8 image\(s\) without a mask.*\(8 in all\)"):
        GenericMasks(str(root))


def test_mask_size_mismatch_and_rgb_mask_in_a_layout(tmp_path: Path) -> None:
    root = make_masks(tmp_path)
    save_mask(root / "masks" / "b.png", np.zeros((5, 9)))
    Image.fromarray(np.zeros((6, 9, 3), np.uint8)).save(root / "masks" / "c.png")
    (root / "classes.json").write_text(json.dumps({"classes": ["bg", "x"]}))
    ds = GenericMasks(str(root))
    with pytest.raises(DatasetError) as err:
        SegmentationTask(ds).prepare()
    text = str(err.value)
    assert text.startswith("2 segmentation sample(s)")
    assert "b: mask is 9x5, image is 9x6" in text
    assert "c: " in text and "colour-coded RGB masks are not supported" in text
    (root / "classes.json").unlink()
    with pytest.raises(DatasetError, match="colour-coded RGB"):
        GenericMasks(str(root)).categories()


def test_fingerprint_ignores_where_the_data_lives(tmp_path: Path) -> None:
    root = make_masks(tmp_path / "one", {"classes": ["bg", "a", "b", "c", "d"]})
    moved = shutil.copytree(root, tmp_path / "two")
    a, b = GenericMasks(str(root)), GenericMasks(str(moved))
    assert a.fingerprint() == b.fingerprint()
    save_mask(moved / "masks" / "a.png", np.ones((6, 9)))
    assert GenericMasks(str(moved)).fingerprint() != a.fingerprint()
    info = a.info()
    assert info["images"] == 3 and len(info["sha256"]) == 64


def test_sparse_and_dense_counting_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    from lossybench.plugins.tasks import segmentation

    rng = np.random.default_rng(2)
    gt = rng.integers(0, 6, (9, 11))
    gt[0] = 255
    pred = rng.integers(-2, 8, (9, 11))
    dense = segmentation.confusion(gt, pred, 6, 255)
    monkeypatch.setattr(segmentation, "DENSE_CELLS", 0)
    assert segmentation.confusion(gt, pred, 6, 255) == dense
    assert dense[1] == 99 - 11


def test_docs_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    import re

    doc = (Path(__file__).resolve().parents[1] / "docs" / "segmentation.md").read_text()
    code = re.findall(r"```python\n(.*?)```", doc, re.S)[0]
    exec(compile(code, "docs/segmentation.md", "exec"), {})
    out = capsys.readouterr().out
    assert "'num_classes': 3" in out and "'pixel_accuracy': 0.984375" in out
