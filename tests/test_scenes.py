"""The procedural scenes dataset: determinism, valid annotations, disjoint splits."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lossybench.errors import DatasetError
from lossybench.plugins.datasets import scenes
from lossybench.plugins.datasets.scenes import (
    ScenesClassification,
    ScenesDetection,
    ScenesSegmentation,
    writing,
)

N = 6  # images in the small splits generated here


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("scenes") / "val6"
    return scenes.write_split(root, "val", images=N)


def _arrays(root: Path, sub: str) -> list[np.ndarray]:
    return [np.asarray(Image.open(p)) for p in sorted((root / sub).glob("*.png"))]


def test_same_seed_same_pixels_and_annotations(small: Path, tmp_path: Path) -> None:
    again = scenes.write_split(tmp_path / "again", "val", images=N)
    for sub in ("images", "masks"):
        a, b = _arrays(small, sub), _arrays(again, sub)
        assert len(a) == len(b) == N
        assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    for name in ("annotations.json", "labels.csv", "classes.json", "manifest.json"):
        assert (small / name).read_bytes() == (again / name).read_bytes()
    assert ScenesDetection(str(small)).fingerprint() == ScenesDetection(str(again)).fingerprint()


def test_worker_processes_write_the_same_split(
    small: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Large splits render on every core; the files must not depend on it."""
    monkeypatch.setattr(writing, "PARALLEL_FROM", 2)
    monkeypatch.setattr(writing, "available_cores", lambda: 2)
    parallel = scenes.write_split(tmp_path / "parallel", "val", images=N)
    for sub in ("images", "masks"):
        assert [p.read_bytes() for p in sorted((small / sub).glob("*.png"))] == [
            p.read_bytes() for p in sorted((parallel / sub).glob("*.png"))
        ]
    for name in ("annotations.json", "labels.csv", "manifest.json"):
        assert (small / name).read_bytes() == (parallel / name).read_bytes()


def test_render_is_a_pure_function_of_split_and_index(small: Path) -> None:
    scene = scenes.render("val", 3)
    assert np.array_equal(scene.image, _arrays(small, "images")[3])
    assert np.array_equal(scene.mask, _arrays(small, "masks")[3])
    assert not np.array_equal(scene.image, scenes.render("train", 3).image)


def test_omit_leaves_one_object_unpainted_and_everything_else_alone() -> None:
    scene = scenes.render("val", 3)
    for k, obj in enumerate(scene.objects):
        without = scenes.render("val", 3, omit=k)
        changed = np.any(without.image != scene.image, axis=-1)
        assert changed.any()
        # only pixels the omitted object covered (its anti-aliased rim included) change
        x, y, w, h = obj["bbox"]
        outside = changed.copy()
        outside[max(y - 1, 0) : y + h + 1, max(x - 1, 0) : x + w + 1] = False
        assert not outside.any()
        assert np.array_equal(without.mask, scene.mask)
        assert [o["bbox"] for o in without.objects] == [o["bbox"] for o in scene.objects]


def test_fixed_validation_split_hash() -> None:
    """The shipped val split: 200 images whose decoded pixels + annotations hash to a constant."""
    ds = ScenesDetection()
    assert len(ds) == scenes.SPLITS["val"].images == 200
    assert ds.fingerprint() == scenes.VAL_SHA256
    info = ds.info()
    assert info["images"] == 200 and info["sha256"] == scenes.VAL_SHA256


def test_pycocotools_loads_and_masks_agree_with_boxes(small: Path) -> None:
    from pycocotools import mask as mask_utils
    from pycocotools.coco import COCO

    coco = COCO(str(small / "annotations.json"))
    assert sorted(coco.getCatIds()) == list(range(1, len(scenes.CLASSES) + 1))
    assert len(coco.getImgIds()) == N
    for img in coco.loadImgs(coco.getImgIds()):
        mask = np.asarray(Image.open(small / "masks" / img["file_name"]))
        assert mask.shape == (img["height"], img["width"]) == scenes.SIZE
        covered = np.zeros(mask.shape, bool)
        anns = coco.loadAnns(coco.getAnnIds(imgIds=img["id"]))
        assert anns
        for ann in anns:
            inst = mask_utils.decode(ann["segmentation"]).astype(bool)
            ys, xs = np.nonzero(inst)
            x0, y0 = xs.min(), ys.min()
            bbox = [x0, y0, xs.max() + 1 - x0, ys.max() + 1 - y0]
            assert [int(v) for v in bbox] == ann["bbox"]
            assert ann["area"] == int(inst.sum()) >= scenes.MIN_AREA
            assert (mask[inst] == ann["category_id"]).all()
            assert not (covered & inst).any()  # visible masks do not overlap
            covered |= inst
        assert np.array_equal(covered, mask > 0)


def test_labels_are_the_largest_visible_object(small: Path) -> None:
    ds = ScenesClassification(str(small))
    assert ds.categories() == [{"id": i, "name": n} for i, n in enumerate(scenes.CLASSES)]
    gt = json.loads((small / "annotations.json").read_text())
    for sample, img in zip(ds.samples(), gt["images"], strict=True):
        anns = [a for a in gt["annotations"] if a["image_id"] == img["id"]]
        assert sample.target == max(anns, key=lambda a: a["area"])["category_id"] - 1


def test_train_and_val_backgrounds_are_disjoint() -> None:
    val, train = scenes.SPLITS["val"], scenes.SPLITS["train"]
    assert not set(val.photos) & set(train.photos)
    stems = {Path(p).stem.split("_")[0] for _, p in val.photos}
    assert not stems & {Path(p).stem.split("_")[0] for _, p in train.photos}  # stereo pairs
    assert val.texture_half != train.texture_half and val.seed != train.seed
    assert all(p.endswith(".png") for _, p in val.photos)  # bit-exact decoding everywhere


def test_dev_split_looks_like_val_but_holds_other_scenes() -> None:
    val, dev = scenes.SPLITS["val"], scenes.SPLITS["dev"]
    assert dev.photos == val.photos and dev.texture_half == val.texture_half
    assert len({s.seed for s in scenes.SPLITS.values()}) == len(scenes.SPLITS)
    for i in range(2):
        assert not np.array_equal(scenes.render("dev", i).image, scenes.render("val", i).image)


def test_targets_fit_the_task_plugins(small: Path, registry) -> None:
    det = ScenesDetection(str(small))
    seg = ScenesSegmentation(str(small))
    assert registry.get("tasks", "detection").obj(det).prepare()["num_classes"] == 7
    facts = registry.get("tasks", "segmentation").obj(seg).prepare()
    assert facts["num_classes"] == 7 and facts["ignore_index"] == 255
    sample = next(iter(seg.samples()))
    assert sample.meta["target_files"] == [sample.target["mask"]]
    assert next(iter(det.samples())).target == {"image_id": 1, "width": 320, "height": 320}


def test_written_split_reads_as_coco_and_masks_formats(small: Path, registry) -> None:
    """The same files work with the generic formats real users' data comes in."""
    coco = registry.get("datasets", "coco").obj(str(small))
    assert len(list(coco.samples())) == N
    masks = registry.get("datasets", "masks").obj(str(small))
    assert [c["name"] for c in masks.categories()] == ["background", *scenes.CLASSES]


def test_locations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOSSYBENCH_SCENES_DIR", str(tmp_path / "cache"))
    assert scenes.parse_location(None) == (tmp_path / "cache" / "val", "val", None)
    assert scenes.parse_location("train")[:2] == (tmp_path / "cache" / "train", "train")
    assert scenes.parse_location("val,images=5") == (tmp_path / "cache" / "val-5", "val", 5)
    assert scenes.parse_location(f"{tmp_path}/x,split=train,images=3") == (
        tmp_path / "x", "train", 3)
    for bad in ("val,foo=1", "val,images=0", "val,images=x", f"{tmp_path}/y,split=test"):
        with pytest.raises(DatasetError):
            scenes.parse_location(bad)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "stray.txt").write_text("x")
    with pytest.raises(DatasetError, match="no manifest"):
        ScenesDetection(str(tmp_path / "full"))
    ds = ScenesSegmentation(f"{tmp_path / 'gen'},images=2")
    assert len(ds) == 2 and (tmp_path / "gen" / "masks" / "000001.png").is_file()
