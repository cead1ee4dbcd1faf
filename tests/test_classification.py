"""Classification task and its dataset formats: imagefolder, labels lists, imagenet-samples."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lossybench.dataset import Dataset, Sample
from lossybench.errors import DatasetError, LossybenchError
from lossybench.plugins.datasets.imagefolder import ImageFolder
from lossybench.plugins.datasets.imagenet_samples import ImageNetSamples
from lossybench.plugins.datasets.labels_list import LabelsList
from lossybench.plugins.tasks.classification import ClassificationTask


class ListDataset(Dataset):
    name = "list"
    task = "classification"

    def __init__(self, targets: list, cats: int | None = None) -> None:
        super().__init__(None)
        self.targets = targets
        self.cats = cats

    def samples(self):
        for i, t in enumerate(self.targets):
            yield Sample(id=f"im{i}", source=b"", target=t)

    def categories(self):
        return None if self.cats is None else [{"id": i, "name": str(i)} for i in range(self.cats)]


def sample(label: int, i: int = 0) -> Sample:
    return Sample(id=f"s{i}", source=b"", target=label)


# -- the evaluator -----------------------------------------------------------------------
def test_top1_top5_hand_computed() -> None:
    task = ClassificationTask(ListDataset([0, 1, 2, 3], cats=7))
    logits = [
        # label 0: best → top-1 and top-5
        [9.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        # label 1: 5th largest (9,8,7,6 above it) → top-5 only
        [9.0, 5.0, 8.0, 7.0, 6.0, 1.0, 0.0],
        # label 2: 6th largest → neither
        [9.0, 8.0, 1.0, 7.0, 6.0, 5.0, 0.0],
        # label 3: 2nd largest → top-5 only
        [1.0, 2.0, 3.0, 8.0, 9.0, 0.0, 0.0],
    ]
    outs = [task.outcome(sample(lab, i), np.array(lg)) for i, (lab, lg) in
            enumerate(zip([0, 1, 2, 3], logits, strict=True))]
    assert outs[0] == {"label": 0, "pred": 0, "correct": True, "top5": True}
    assert outs[1] == {"label": 1, "pred": 0, "correct": False, "top5": True}
    assert outs[2] == {"label": 2, "pred": 0, "correct": False, "top5": False}
    assert outs[3] == {"label": 3, "pred": 4, "correct": False, "top5": True}
    assert task.aggregate(outs) == {"top1": 0.25, "top5": 0.75}
    json.dumps(outs)  # records go to JSONL: plain Python types only
    assert all(type(o["pred"]) is int and type(o["top5"]) is bool for o in outs)


def test_fewer_than_five_classes_and_ties() -> None:
    task = ClassificationTask(ListDataset([2], cats=3))
    out = task.outcome(sample(2), np.array([0.1, 0.3, 0.2], dtype=np.float32))
    assert out == {"label": 2, "pred": 1, "correct": False, "top5": True}  # top-3 of 3
    tie = task.outcome(sample(1), np.array([1.0, 1.0, 0.0]))
    assert tie["pred"] == 0  # ties resolve to the lower index, as argmax does
    nan = task.outcome(sample(1), np.array([np.nan, 1.0, 0.0]))
    assert nan["pred"] == 1


def test_aggregate_empty_and_bad_prediction() -> None:
    task = ClassificationTask(ListDataset([0], cats=2))
    assert task.aggregate([]) == {}
    with pytest.raises(LossybenchError, match="1-D"):
        task.outcome(sample(0), np.zeros((2, 2)))
    with pytest.raises(LossybenchError, match="outside the model's 2 outputs"):
        task.outcome(sample(5), np.zeros(2))


def test_prepare_num_classes_and_label_range() -> None:
    assert ClassificationTask(ListDataset([0, 4], cats=10)).prepare() == {"num_classes": 10}
    assert ClassificationTask(ListDataset([0, 4]), num_classes=7).prepare() == {"num_classes": 7}
    assert ClassificationTask(ListDataset([0, 4], cats=5), num_classes="9").prepare() == {
        "num_classes": 9}
    with pytest.raises(TypeError):  # the run reports unknown options from this
        ClassificationTask(ListDataset([0]), split="val")
    with pytest.raises(DatasetError, match="positive integer"):
        ClassificationTask(ListDataset([0]), num_classes=0).prepare()
    assert ClassificationTask(ListDataset([0, 4])).prepare() == {"num_classes": 5}
    with pytest.raises(DatasetError, match=r"sample 'im1'.*label 10.*\[0, 10\)"):
        ClassificationTask(ListDataset([3, 10], cats=10)).prepare()
    with pytest.raises(DatasetError, match=r"sample 'im0'.*label -1"):
        ClassificationTask(ListDataset([-1], cats=10)).prepare()
    with pytest.raises(DatasetError, match=r"sample 'im1'.*'cat'.*integers"):
        ClassificationTask(ListDataset([1, "cat"], cats=10)).prepare()
    with pytest.raises(DatasetError, match="sample 'im0'"):
        ClassificationTask(ListDataset([True], cats=10)).prepare()


# -- imagefolder ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def crops(astronaut: np.ndarray, chelsea: np.ndarray) -> list[np.ndarray]:
    return [astronaut[:48, :64], astronaut[100:148, 200:264], chelsea[:40, :40],
            chelsea[50:90, 100:160]]


def make_folder(root: Path, classes: list[str], crops: list[np.ndarray]) -> Path:
    for c, name in enumerate(classes):
        d = root / name
        d.mkdir(parents=True)
        Image.fromarray(crops[c % len(crops)]).save(d / "a.png")
        Image.fromarray(crops[(c + 1) % len(crops)]).save(d / "b.jpg", quality=90)
        (d / "notes.txt").write_text("not an image")
    return root


def labels_of(ds: Dataset) -> dict[str, int]:
    return {s.id: s.target for s in ds.samples()}


def test_imagefolder_sorted_names(tmp_path: Path, crops) -> None:
    root = make_folder(tmp_path / "val", ["dog", "cat", "bird"], crops)
    ds = ImageFolder(str(root))
    assert labels_of(ds) == {"bird/a.png": 0, "bird/b.jpg": 0, "cat/a.png": 1, "cat/b.jpg": 1,
                             "dog/a.png": 2, "dog/b.jpg": 2}  # .txt skipped
    assert [c["name"] for c in ds.categories()] == ["bird", "cat", "dog"]
    assert len(ds) == 6
    assert next(ds.samples()).image().shape == (40, 40, 3)
    assert ClassificationTask(ds).prepare() == {"num_classes": 3}


def test_imagefolder_integer_names(tmp_path: Path, crops) -> None:
    root = make_folder(tmp_path / "val", ["7", "2", "10"], crops)
    ds = ImageFolder(str(root))
    assert {k.split("/")[0]: v for k, v in labels_of(ds).items()} == {"7": 7, "2": 2, "10": 10}
    assert ClassificationTask(ds).prepare() == {"num_classes": 11}


def test_imagefolder_imagenet_wnids(tmp_path: Path, crops) -> None:
    # tench = 0, goldfish = 1, toilet tissue = 999
    root = make_folder(tmp_path / "val", ["n15075141", "n01443537", "n01440764"], crops)
    ds = ImageFolder(str(root))
    assert {k.split("/")[0]: v for k, v in labels_of(ds).items()} == {
        "n01440764": 0, "n01443537": 1, "n15075141": 999}
    cats = ds.categories()
    assert len(cats) == 1000 and cats[0]["wnid"] == "n01440764" and "tench" in cats[0]["name"]
    assert ClassificationTask(ds).prepare() == {"num_classes": 1000}


def test_imagefolder_class_index_json_in_parent(tmp_path: Path, crops) -> None:
    index = {"0": ["n00000001", "apple"], "1": ["n00000002", "pear"], "2": ["n00000003", "fig"]}
    (tmp_path / "class_index.json").write_text(json.dumps(index))
    root = make_folder(tmp_path / "val", ["n00000003", "pear"], crops)  # wnid or class name
    ds = ImageFolder(str(root))
    assert {k.split("/")[0]: v for k, v in labels_of(ds).items()} == {"n00000003": 2, "pear": 1}
    assert [c["name"] for c in ds.categories()] == ["apple", "pear", "fig"]
    make_folder(root, ["plum"], crops)
    with pytest.raises(DatasetError, match=r"plum.*class_index\.json"):
        ImageFolder(str(root))


def test_imagefolder_errors(tmp_path: Path, crops) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        ImageFolder(str(tmp_path / "nope"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no class sub-folders"):
        ImageFolder(str(tmp_path / "empty"))
    (tmp_path / "noimg" / "cat").mkdir(parents=True)
    (tmp_path / "noimg" / "cat" / "x.txt").write_text("x")
    with pytest.raises(DatasetError, match="no images"):
        ImageFolder(str(tmp_path / "noimg"))


# -- labels lists --------------------------------------------------------------------------
@pytest.fixture
def images(tmp_path: Path, crops) -> Path:
    (tmp_path / "img").mkdir()
    for i, c in enumerate(crops[:3]):
        Image.fromarray(c).save(tmp_path / "img" / f"{i}.png")
    return tmp_path


def test_labels_csv_with_and_without_header(images: Path) -> None:
    (images / "with.csv").write_text("label,image\n3,img/0.png\n0,img/1.png\n\n# done\n")
    ds = LabelsList(str(images / "with.csv"))
    assert labels_of(ds) == {"img/0.png": 3, "img/1.png": 0}
    assert len(ds.categories()) == 4  # largest label + 1
    assert next(ds.samples()).image().shape == crops_shape(images / "img" / "0.png")
    (images / "plain.csv").write_text("img/2.png, 1\nimg/0.png,2\n")
    assert labels_of(LabelsList(str(images / "plain.csv"))) == {"img/2.png": 1, "img/0.png": 2}
    (images / "tabs.tsv").write_text("img/1.png\t5\n")
    assert labels_of(LabelsList(str(images / "tabs.tsv"))) == {"img/1.png": 5}


def crops_shape(path: Path) -> tuple[int, ...]:
    return np.asarray(Image.open(path).convert("RGB")).shape


def test_labels_csv_bad_lines(images: Path) -> None:
    (images / "bad.csv").write_text(
        "image,label\nimg/0.png,1\nimg/1.png,cat\nimg/9.png,2\nimg/0.png,4\nimg/2.png\n"
    )
    with pytest.raises(DatasetError) as err:
        LabelsList(str(images / "bad.csv"))
    msg = str(err.value)
    assert "4 problem(s)" in msg
    assert "line 3: label 'cat'" in msg
    assert "line 4: image file" in msg and "9.png does not exist" in msg
    assert "line 5: image 'img/0.png' is listed twice (also line 2)" in msg
    assert "line 6: needs an image and a label" in msg
    (images / "hdr.csv").write_text("path,cls\nimg/0.png,1\n")
    with pytest.raises(DatasetError, match="line 1: a header must name the columns"):
        LabelsList(str(images / "hdr.csv"))
    with pytest.raises(DatasetError, match="does not exist"):
        LabelsList(str(images / "missing.csv"))


def test_labels_json_forms(images: Path) -> None:
    (images / "list.json").write_text(json.dumps(
        [{"image": "img/0.png", "label": 4}, {"image": "img/1.png", "label": 0}]))
    assert labels_of(LabelsList(str(images / "list.json"))) == {"img/0.png": 4, "img/1.png": 0}
    (images / "map.json").write_text(json.dumps({"img/2.png": 1}))
    ds = LabelsList(str(images / "map.json"))
    assert labels_of(ds) == {"img/2.png": 1} and len(ds.categories()) == 2
    (images / "wrapped.json").write_text(json.dumps(
        {"num_classes": 1000, "items": {"img/2.png": 1}}))
    ds = LabelsList(str(images / "wrapped.json"))
    assert len(ds.categories()) == 1000
    assert ClassificationTask(ds).prepare() == {"num_classes": 1000}


def test_labels_json_bad_entries(images: Path) -> None:
    (images / "bad.json").write_text(json.dumps({"num_classes": 3, "items": [
        {"image": "img/0.png", "label": 1},
        {"image": "img/1.png", "label": 3},
        {"image": "img/2.png", "label": 1.5},
        {"file": "img/2.png"},
    ]}))
    with pytest.raises(DatasetError) as err:
        LabelsList(str(images / "bad.json"))
    msg = str(err.value)
    assert "entry 1 (items[1]): label 3 of 'img/1.png' is outside [0, 3)" in msg
    assert "entry 2 (items[2]): label 1.5" in msg
    assert "entry 3 (items[3]): needs an image and a label" in msg
    (images / "broken.json").write_text("[{")
    with pytest.raises(DatasetError, match="not valid JSON"):
        LabelsList(str(images / "broken.json"))


# -- imagenet-samples ----------------------------------------------------------------------
def test_imagenet_samples() -> None:
    ds = ImageNetSamples()
    samples = list(ds.samples())
    assert len(samples) == 20 == len(ds)
    assert [s.id for s in samples] == sorted(s.id for s in samples)
    for s in samples:
        assert s.id.startswith("imagenet_") and s.target == int(s.id.rsplit("_", 1)[1])
    assert samples[0].target == 243 and samples[0].image().dtype == np.uint8
    cats = ds.categories()
    assert len(cats) == 1000 and cats[243]["id"] == 243 and "bull mastiff" in cats[243]["name"]
    assert ClassificationTask(ds).prepare() == {"num_classes": 1000}


def test_imagenet_samples_without_foolbox(monkeypatch) -> None:
    from importlib.metadata import PackageNotFoundError

    import lossybench.plugins.datasets.imagenet_samples as mod

    def missing(name: str):
        raise PackageNotFoundError(name)

    monkeypatch.setattr(mod, "distribution", missing)
    with pytest.raises(DatasetError, match=r"pip install foolbox==3\.3\.4"):
        ImageNetSamples()


def test_registered(registry) -> None:
    assert registry.get("tasks", "classification").obj is ClassificationTask
    for name, cls in [("imagefolder", ImageFolder), ("labels", LabelsList),
                      ("imagenet-samples", ImageNetSamples)]:
        assert registry.get("datasets", name).obj is cls
        assert cls.task == "classification"
