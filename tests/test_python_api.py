"""The Python API: ``lossybench.evaluate`` on a model object, ``compress``, ``Compress``."""

from __future__ import annotations

import json
import pickle
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import lossybench
from lossybench import hookimpl
from lossybench.api import ModelOutputError
from lossybench.dataset import Sample
from lossybench.errors import DatasetError, LossybenchError, ModelError
from lossybench.model import LoadedModel, ModelFamily, WeightsInfo
from lossybench.plugins.datasets.package_photos import photo_path
from lossybench.registry import get_registry, load_registry
from lossybench.transforms import Compress

ROOT = Path(__file__).resolve().parents[1]
RUN = {"codecs": ["jpeg"], "bpp": [0.3, 1.0], "workers": 0}


class TinyNet(nn.Module):
    def __init__(self, classes: int = 6) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, stride=4, padding=1)
        self.head = nn.Linear(8, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.conv(x)).mean((2, 3)))


def tiny_net() -> TinyNet:
    torch.manual_seed(0)
    return TinyNet()


# -- the same network through a plugin, as bench run sees it ---------------------------
@dataclass
class TinyLoaded(LoadedModel):
    net: Any = None

    def preprocess(self, image: np.ndarray) -> Any:
        x = torch.from_numpy(np.require(image, np.uint8, ["C", "W"])).permute(2, 0, 1)
        return x.float().div(255.0)

    def forward(self, inputs, sizes):
        with torch.inference_mode():
            return list(self.net(torch.stack(list(inputs))).numpy())


class TinyFamily(ModelFamily):
    name = "tiny"
    tasks = ("classification",)

    def build(self, model, task, weights=None, device="cpu", num_classes=None):
        return TinyLoaded(family="tiny", name=model, task=task, weights=WeightsInfo("random"),
                          net=tiny_net().eval())


class TinyPlugin:
    @hookimpl
    def lossybench_models(self) -> list[type[ModelFamily]]:
        return [TinyFamily]


def scenes_pairs(n: int) -> list[tuple[Image.Image, int]]:
    ds = get_registry().get("datasets", "scenes-classification").obj("val")
    samples = [s for s, _ in zip(ds.samples(), range(n), strict=False)]
    return [(Image.open(s.source).convert("RGB"), s.target) for s in samples]


def jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()[1:]]


@pytest.fixture(scope="module")
def plugin_records(tmp_path_factory) -> list[dict[str, Any]]:
    from lossybench.engine.run.config import RunConfig
    from lossybench.engine.run.execute import execute
    from lossybench.engine.run.resolve import resolve

    out = tmp_path_factory.mktemp("plugin")
    reg = load_registry(extra_plugins=[("tiny", TinyPlugin())])
    cfg = RunConfig(task="classification", model="tiny:net", dataset="scenes-classification",
                    limit=3, out=str(out), **RUN)
    _, path = execute(resolve(cfg, reg))
    return jsonl(path.with_suffix(".jsonl"))


def test_a_module_gives_the_records_of_the_same_network_as_a_plugin(plugin_records, tmp_path):
    net = tiny_net()
    net.train()
    by_name = lossybench.evaluate(net, "scenes-classification", task="classification", limit=3,
                                  out=tmp_path / "a", **RUN)
    assert by_name.image_records() == plugin_records
    assert net.training  # handed back in the mode it came in
    assert by_name.model.family == "python" and by_name.model.name == "test_python_api.TinyNet"
    assert by_name.model.weights.source == "state_dict"
    assert by_name.model.weights.sha256 == lossybench.api.adapters.state_digest(tiny_net())
    assert by_name.dataset.name == "scenes-classification" and by_name.dataset.images == 3
    assert by_name.path.parent == tmp_path / "a"

    # the same images as a plain list of (PIL image, label), through two worker processes
    mine = lossybench.evaluate(net, scenes_pairs(3), task="classification", classes=6,
                               out=tmp_path / "b", **{**RUN, "workers": 2})
    assert mine.image_records() == plugin_records
    assert mine.dataset.name == "python" and mine.dataset.location == "builtins.list"
    assert mine.config["dataset_options"] == {"sha256": mine.dataset.sha256}
    assert len(list((tmp_path / "b" / "python-images").rglob("*.png"))) == 3
    again = lossybench.evaluate(net, scenes_pairs(3), task="classification", classes=6,
                                out=tmp_path / "b", **RUN)  # resumes: nothing left to do
    assert again.image_records() == plugin_records and again.path == mine.path

    saved = mine.save(tmp_path / "submission")
    from jsonschema import Draft202012Validator

    from lossybench.engine.results import shipped_schema
    from lossybench.leaderboard.validate import validate_file

    Draft202012Validator(shipped_schema()).validate(json.loads(saved.read_text()))
    report = validate_file(saved)
    assert not report.problems, report.problems


def test_weights_and_data_change_the_run(tmp_path):
    pairs = scenes_pairs(2)
    a = lossybench.evaluate(tiny_net(), pairs, task="classification", classes=6,
                            out=tmp_path, **RUN)
    other = tiny_net()
    with torch.no_grad():
        other.head.bias += 1
    b = lossybench.evaluate(other, pairs, task="classification", classes=6, out=tmp_path, **RUN)
    c = lossybench.evaluate(tiny_net(), pairs[::-1], task="classification", classes=6,
                            out=tmp_path, **RUN)
    assert a.model.weights.sha256 != b.model.weights.sha256
    assert a.dataset.sha256 == b.dataset.sha256 != c.dataset.sha256
    assert len({a.path, b.path, c.path}) == 3


def test_detection_and_segmentation_from_python_objects(tmp_path):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (40, 56, 3), dtype=np.uint8)
    target = {"boxes": torch.tensor([[4.0, 6.0, 30.0, 20.0]]), "labels": torch.tensor([2])}

    def detector(x):  # finds the box exactly, in a 2x-resized input
        return [{"boxes": torch.tensor([[8.0, 12.0, 60.0, 40.0]]), "scores": torch.tensor([0.9]),
                 "labels": torch.tensor([2])} for _ in x]

    r = lossybench.evaluate(detector, [(image, target)], task="detection", size=(80, 112),
                            out=tmp_path, **RUN)
    assert r.clean.metrics["map"] == pytest.approx(1.0)
    assert r.model.weights.source == "callable" and r.model.weights.sha256 is None

    mask = np.zeros((40, 56), np.uint8)
    mask[10:30, 10:40] = 2

    def segmenter(x):
        return {"out": torch.zeros(len(x), 3, 10, 14)}

    jpeg = get_registry().codec("jpeg")()  # a Codec object, and fixed settings
    s = lossybench.evaluate(segmenter, [(Image.fromarray(image), Image.fromarray(mask))],
                            task="segmentation", out=tmp_path, codecs=[jpeg], quality=[30, 70],
                            workers=0)
    assert s.task.details["num_classes"] == 3 and s.settings.mode == "quality"
    assert [p.target for p in s.codecs[0].points] == [30, 70]
    assert s.clean.metrics["pixel_accuracy"] == pytest.approx(1 - 600 / (40 * 56))


@pytest.mark.parametrize(
    ("task", "model", "data", "error", "words"),
    [
        ("classification", lambda x: torch.zeros(len(x), 4), "scenes", ModelOutputError,
         ["4 classes", "dataset has 6", "(N, K)"]),
        ("classification", lambda x: torch.zeros(len(x)), "scenes", ModelOutputError,
         ["2 dimensions", "shape (1,)"]),
        ("classification", lambda x: "cat", "scenes", ModelOutputError, ["not a tensor"]),
        ("detection", lambda x: torch.zeros(len(x), 7), "boxes", ModelOutputError,
         ["a list of 1 dicts", "Tensor of shape (1, 7)"]),
        ("detection", lambda x: [{"boxes": torch.zeros(1, 4)} for _ in x], "boxes",
         ModelOutputError, ["boxes, scores and labels", "['boxes']"]),
        ("detection", lambda x: [{"boxes": torch.zeros(1, 4), "scores": torch.ones(1),
                                  "labels": torch.tensor([9])} for _ in x], "boxes",
         ModelOutputError, ["category ids of the dataset (0..2)", "labels 9..9"]),
        ("segmentation", lambda x: torch.zeros(len(x), 2, 8, 8), "masks", ModelOutputError,
         ["2 classes", "dataset has 3"]),
        ("classification", nn.Linear(3, 4), "scenes", ModelError, ["batch of shape (1, 3,"]),
        ("classification", TinyNet(), "labels", DatasetError, ["class index", "'cat'"]),
        ("classification", TinyNet(), "floats", DatasetError, ["uint8", "float64"]),
    ],
)
def test_outputs_and_data_that_do_not_fit_are_named(task, model, data, error, words, tmp_path):
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
    mask = np.zeros((24, 32), np.uint8)
    mask[0, 0] = 2
    items = {
        "scenes": [(image, 5)],
        "boxes": [(image, {"boxes": [[1, 1, 9, 9]], "labels": [2]})],
        "masks": [(image, mask)],
        "labels": [(image, "cat")],
        "floats": [(image.astype(float), 1)],
    }[data]
    with pytest.raises(error) as err:
        lossybench.evaluate(model, items, task=task, classes=6 if data == "scenes" else None,
                            out=tmp_path, **RUN)
    assert isinstance(err.value, LossybenchError)
    for word in words:
        assert word in str(err.value), str(err.value)
    assert not list(tmp_path.glob("*.json"))  # refused before any result was written


def test_compress_measures_real_bits_and_matches_the_sweep(tmp_path):
    path = photo_path("astronaut")
    image = Image.open(path)
    done = subprocess.run(
        [sys.executable, "-m", "lossybench", "codecs", "sweep", str(path), "-c", "jpeg",
         "-c", "webp:method=6", "--bpp", "0.3,1", "--json", "--no-cache", "--workers", "0",
         "--no-ms-ssim"], capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    sweep = {(r["codec"], r["point"]): r for r in json.loads(done.stdout)["records"]}
    for (codec, target), rec in sweep.items():
        out = lossybench.compress(image, codec, bpp=target)
        assert out.quality == rec["quality"] and out.bpp == pytest.approx(rec["bpp"])
        assert out.bpp == 8 * len(out.bitstream) / (image.width * image.height) <= target
        assert isinstance(out.image, Image.Image) and out.image.size == image.size
        assert out.codec == codec and out.target == target and out.status == "ok"
    pixels = np.asarray(image.convert("RGB"))
    fixed = lossybench.compress(pixels, "jpeg", quality=50)
    assert isinstance(fixed.image, np.ndarray) and fixed.image.shape == pixels.shape
    assert fixed.quality == 50 and fixed.target is None and 20 < fixed.psnr < 50
    grey = lossybench.compress(pixels[..., 0], "jpeg", quality=50)
    assert grey.image.shape == pixels.shape[:2] and grey.image.dtype == np.uint8
    with pytest.raises(LossybenchError, match="not both"):
        lossybench.compress(pixels, "jpeg", bpp=0.5, quality=50)
    with pytest.raises(LossybenchError, match="uint8"):
        lossybench.compress(pixels.astype(np.float32), "jpeg", bpp=0.5)


class Crops(torch.utils.data.Dataset):
    def __init__(self, transform: Any) -> None:
        photo = np.asarray(Image.open(photo_path("chelsea")).convert("RGB"))
        self.images = [photo[y : y + 64, x : x + 96] for y in (0, 64) for x in (0, 96, 192)]
        self.transform = transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> Any:
        return self.transform(Image.fromarray(self.images[i])), torch.from_numpy(self.images[i])


def test_the_transform_in_a_dataloader_with_workers():
    from torchvision.transforms import v2

    compress = Compress(["jpeg", "webp"], bpp_range=(0.2, 0.6), seed=3)
    pipeline = v2.Compose([compress, v2.PILToTensor()])
    loader = torch.utils.data.DataLoader(Crops(pipeline), batch_size=3, num_workers=2)
    seen = 0
    for images, originals in loader:
        assert images.dtype == torch.uint8 and images.shape == (3, 3, 64, 96)
        for got, want in zip(images, originals, strict=True):
            assert not torch.equal(got, want.permute(2, 0, 1))  # compressed
            diff = (got.float() - want.permute(2, 0, 1).float()).abs().mean()
            assert 0 < diff < 40
        seen += len(images)
    assert seen == 6


def test_the_transform_keeps_types_and_pickles():
    from torchvision import tv_tensors

    photo = np.array(Image.open(photo_path("chelsea")).convert("RGB"))[:48, :64]
    t = Compress("jpeg", bpp_range=(0.5, 0.5), seed=0)
    clone = pickle.loads(pickle.dumps(t))
    assert clone._built is None and clone._rng is None
    assert np.array_equal(np.asarray(clone(Image.fromarray(photo))),
                          np.asarray(t(Image.fromarray(photo))))
    chw = torch.from_numpy(photo).permute(2, 0, 1).contiguous()
    out = t(tv_tensors.Image(chw))
    assert isinstance(out, tv_tensors.Image) and out.shape == chw.shape
    assert type(t(chw)) is torch.Tensor and t(photo).shape == photo.shape
    assert Image.fromarray(photo).convert("L").size == t(Image.fromarray(photo).convert("L")).size
    assert t(photo[..., 0]).shape == photo.shape[:2]
    image, target = t(Image.fromarray(photo), {"label": 3})  # targets pass through
    assert isinstance(image, Image.Image) and target == {"label": 3}
    never = Compress("jpeg", p=0.0)
    assert never(photo) is photo
    expected = lossybench.compress(photo, "jpeg", bpp=0.5).image
    assert np.array_equal(t(photo), expected)  # the bpp compress() picks
    first = [Compress(["jpeg", "webp"], bpp_range=(0.1, 1.0), seed=5).draw() for _ in range(2)]
    assert [(c.label, b) for c, b in first] == [(first[0][0].label, first[0][1])] * 2
    many = Compress(["jpeg", "webp"], bpp_range=(0.1, 1.0), seed=1)
    drawn = [many.draw() for _ in range(200)]
    assert {c.label for c, _ in drawn} == {"jpeg", "webp"}
    assert all(0.1 <= b <= 1.0 for _, b in drawn)
    assert 0.2 < np.median([b for _, b in drawn]) < 0.45  # log-uniform: median ~ 0.32
    with pytest.raises(LossybenchError, match="inverted"):
        Compress("jpeg", bpp_range=(1.0, 0.1))
    with pytest.raises(LossybenchError, match="uint8"):
        t(chw.float() / 255)
    with pytest.raises(LossybenchError):
        Compress("no-such-codec")


def test_import_lossybench_stays_light():
    code = (
        "import sys, lossybench, lossybench.transforms\n"
        "assert 'torch' not in sys.modules, 'torch'\n"
        "assert 'lossybench.engine.run.execute' not in sys.modules, 'engine'\n"
        "assert callable(lossybench.evaluate) and callable(lossybench.compress)\n"
        "assert 'evaluate' in lossybench.__all__ and 'compress' in lossybench.__all__\n"
        "print('torch' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "False"
    with pytest.raises(AttributeError):
        _ = lossybench.no_such_name


def test_python_data_fingerprint_ignores_where_pngs_live(tmp_path):
    from lossybench.api.data import PythonData

    pairs = scenes_pairs(2)
    a = PythonData(pairs, "classification", tmp_path / "one")
    b = PythonData(pairs, "classification", tmp_path / "two")
    assert a.fingerprint() == b.fingerprint()
    sample = next(a.samples())
    assert isinstance(sample, Sample) and sample.id == "000000"
    assert np.array_equal(sample.image(), np.asarray(pairs[0][0]))
    pickle.loads(pickle.dumps(sample))


def test_docs_examples_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    doc = (ROOT / "docs" / "python-api.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", doc, re.S)
    assert len(blocks) == 3
    namespace: dict[str, Any] = {"__name__": "__main__"}
    for i, code in enumerate(blocks):
        exec(compile(code, f"docs/python-api.md, example {i + 1}", "exec"), namespace)
    out = capsys.readouterr().out
    assert "SmallCNN" in out and "epoch 1" in out and "webp:method=6" in out
    assert list((tmp_path / "submission").glob("*.jsonl"))
