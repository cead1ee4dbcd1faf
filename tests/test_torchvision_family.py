"""The torchvision model family with small, randomly initialised networks (no downloads).

Pretrained weights are exercised offline: TORCH_HOME points at a temporary folder and
torch.hub's downloader is replaced by one that fails like a machine without network,
so the error must name the cache file; a random state dict saved at that exact path
must then be found and used as the "pretrained" weights.
"""

from __future__ import annotations

import json
import urllib.error
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torchvision

from lossybench.digest import sha256_file
from lossybench.errors import ModelError
from lossybench.plugins.models.torchvision_family import TorchvisionFamily, cache_path

FAMILY = TorchvisionFamily()


@pytest.fixture(scope="module")
def images(astronaut: np.ndarray, chelsea: np.ndarray) -> list[np.ndarray]:
    """Two photos of different sizes and aspect ratios, small to keep inference fast."""
    return [np.ascontiguousarray(astronaut[:150, :100]), np.ascontiguousarray(chelsea[:90, :160])]


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty torch hub cache and a downloader that fails as offline machines do."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    calls: list[str] = []

    def no_network(url: str, dst: str, *args: Any, **kwargs: Any) -> None:
        calls.append(url)
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    return tmp_path / "torch"


def test_classification_random(images: list[np.ndarray]) -> None:
    model = FAMILY.build("mobilenet_v3_small", "classification", "random", num_classes=5)
    preds = model.predict(images)
    assert len(preds) == 2
    for p in preds:
        assert isinstance(p, np.ndarray) and p.shape == (5,) and p.dtype == np.float32
    info = model.info()
    assert info["weights"] == {"source": "random", "sha256": None}
    assert info["preprocessing"]["crop_size"] == [224]
    assert info["preprocessing"]["from"] == "MobileNet_V3_Small_Weights.IMAGENET1K_V1"
    json.dumps(info)
    assert not model.net.training


def test_detection_random_boxes_in_original_pixels(images: list[np.ndarray]) -> None:
    torch.manual_seed(0)
    model = FAMILY.build(
        "fasterrcnn_mobilenet_v3_large_320_fpn", "detection", "random", num_classes=4
    )
    tall = images[0]  # 150 x 100; the model resizes it internally to 320 on the short side
    wide = np.ascontiguousarray(tall.transpose(1, 0, 2))
    preds = model.predict([tall, wide])
    for p, (h, w) in zip(preds, [tall.shape[:2], wide.shape[:2]], strict=True):
        assert set(p) == {"boxes", "scores", "labels"}
        n = len(p["scores"])
        assert 0 < n <= 100
        assert p["boxes"].shape == (n, 4) and p["boxes"].dtype == np.float32
        assert p["labels"].shape == (n,) and np.issubdtype(p["labels"].dtype, np.integer)
        assert set(p["labels"].tolist()) <= {1, 2, 3}  # 0 is the background
        boxes = p["boxes"]
        assert (boxes[:, 2] <= w + 1e-3).all() and (boxes[:, 3] <= h + 1e-3).all()
        # boxes reach across the whole original frame, not the 320-pixel resized one
        assert boxes[:, 2].max() > 0.9 * w and boxes[:, 3].max() > 0.9 * h
    assert model.preprocessing["min_size"] == [320]
    json.dumps(model.info())


def test_segmentation_random_maps_at_original_size(images: list[np.ndarray]) -> None:
    model = FAMILY.build("lraspp_mobilenet_v3_large", "segmentation", "random", num_classes=4)
    preds = model.predict(images)
    for p, im in zip(preds, images, strict=True):
        assert p.shape == im.shape[:2]
        assert np.issubdtype(p.dtype, np.integer)
        assert p.min() >= 0 and p.max() < 4
    assert model.preprocessing["resize_size"] == [520]


def test_checkpoint_round_trip(tmp_path: Path, images: list[np.ndarray]) -> None:
    net = torchvision.models.mobilenet_v3_small(num_classes=5).eval()
    x = FAMILY.build("mobilenet_v3_small", "classification", "random", num_classes=5)
    batch = torch.stack([x.preprocess(im) for im in images])
    with torch.inference_mode():
        expected = net(batch).numpy()
    state = net.state_dict()
    files = {
        "raw.pt": state,
        "wrapped.pt": {"state_dict": state, "epoch": 3},
        "ddp.pt": {"model": {f"module.{k}": v for k, v in state.items()}},
    }
    for name, obj in files.items():
        torch.save(obj, tmp_path / name)
        model = FAMILY.build(
            "mobilenet_v3_small", "classification", str(tmp_path / name), num_classes=5
        )
        np.testing.assert_allclose(np.stack(model.predict(images)), expected, rtol=1e-4, atol=1e-5)
        assert model.weights.source == str(tmp_path / name)
        assert model.weights.sha256 == sha256_file(tmp_path / name)


def test_checkpoint_errors(tmp_path: Path) -> None:
    torch.save(
        torchvision.models.mobilenet_v3_small(num_classes=5).state_dict(), tmp_path / "five.pt"
    )
    with pytest.raises(ModelError, match=r"five\.pt predicts 5 classes but the dataset needs 7"):
        FAMILY.build(
            "mobilenet_v3_small", "classification", str(tmp_path / "five.pt"), num_classes=7
        )
    with pytest.raises(ModelError, match="missing"):
        FAMILY.build(
            "mobilenet_v3_large", "classification", str(tmp_path / "five.pt"), num_classes=5
        )
    with pytest.raises(ModelError, match="does not exist"):
        FAMILY.build("mobilenet_v3_small", "classification", str(tmp_path / "nope.pt"))
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ModelError, match=r"cannot read .* as a state dict"):
        FAMILY.build("mobilenet_v3_small", "classification", str(tmp_path / "junk.pt"))
    torch.save({"epoch": 3}, tmp_path / "meta.pt")
    with pytest.raises(ModelError, match="holds no state dict"):
        FAMILY.build("mobilenet_v3_small", "classification", str(tmp_path / "meta.pt"))


def test_checkpoint_head_size_is_read_from_the_file(
    tmp_path: Path, images: list[np.ndarray]
) -> None:
    torch.save(
        torchvision.models.mobilenet_v3_small(num_classes=5).state_dict(), tmp_path / "five.pt"
    )
    # labels below 3 are covered by a 5-class head; no class count given: the file's
    for need in (3, None):
        model = FAMILY.build(
            "mobilenet_v3_small", "classification", str(tmp_path / "five.pt"), num_classes=need
        )
        assert model.predict(images[:1])[0].shape == (5,)
    # a detector's head: 3 classes x 6 anchors in SSDlite's classification convolutions
    net = torchvision.models.get_model(
        "ssdlite320_mobilenet_v3_large", weights=None, weights_backbone=None, num_classes=3
    )
    torch.save(net.state_dict(), tmp_path / "ssd3.pt")
    model = FAMILY.build(
        "ssdlite320_mobilenet_v3_large", "detection", str(tmp_path / "ssd3.pt"), num_classes=2
    )
    loaded = model.net.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in net.state_dict().items())
    with pytest.raises(ModelError, match="predicts 3 classes but the dataset needs 6"):
        FAMILY.build(
            "ssdlite320_mobilenet_v3_large", "detection", str(tmp_path / "ssd3.pt"), num_classes=6
        )


def test_segmentation_checkpoint_with_aux_head(tmp_path: Path) -> None:
    net = torchvision.models.get_model(
        "deeplabv3_mobilenet_v3_large",
        weights=None,
        weights_backbone=None,
        num_classes=3,
        aux_loss=True,
    )
    torch.save(net.state_dict(), tmp_path / "seg.pth")
    model = FAMILY.build(
        "deeplabv3_mobilenet_v3_large", "segmentation", str(tmp_path / "seg.pth"), num_classes=3
    )
    assert model.net.aux_classifier is not None


def test_pretrained_offline_names_the_cache_file(offline: Path) -> None:
    weights = torchvision.models.MobileNet_V3_Small_Weights.DEFAULT
    expected = offline / "hub" / "checkpoints" / "mobilenet_v3_small-047dcff4.pth"
    assert cache_path(weights) == expected
    with pytest.raises(ModelError) as err:
        FAMILY.build("mobilenet_v3_small", "classification")
    msg = str(err.value)
    assert str(expected) in msg and weights.url in msg and "URLError" in msg
    assert not expected.exists()


def test_pretrained_from_the_local_cache(offline: Path, images: list[np.ndarray]) -> None:
    net = torchvision.models.mobilenet_v3_small().eval()  # 1000 classes, like the real file
    path = offline / "hub" / "checkpoints" / "mobilenet_v3_small-047dcff4.pth"
    path.parent.mkdir(parents=True)
    torch.save(net.state_dict(), path)
    model = FAMILY.build("mobilenet_v3_small", "classification", num_classes=1000)
    assert model.weights.source == "pretrained:MobileNet_V3_Small_Weights.IMAGENET1K_V1"
    assert model.weights.sha256 == sha256_file(path)
    batch = torch.stack([model.preprocess(im) for im in images])
    with torch.inference_mode():
        expected = net(batch).numpy()
    np.testing.assert_allclose(np.stack(model.predict(images)), expected, rtol=1e-4, atol=1e-5)


def test_pretrained_segmentation_from_the_local_cache(offline: Path) -> None:
    weights = torchvision.models.segmentation.LRASPP_MobileNet_V3_Large_Weights.DEFAULT
    net = torchvision.models.get_model(
        "lraspp_mobilenet_v3_large", weights=None, weights_backbone=None, num_classes=21
    )
    path = cache_path(weights)
    path.parent.mkdir(parents=True)
    torch.save(net.state_dict(), path)
    model = FAMILY.build("lraspp_mobilenet_v3_large", "segmentation", num_classes=21)
    assert model.weights.path == str(path)


def test_pretrained_detection_from_the_local_cache(offline: Path, images: list[np.ndarray]) -> None:
    weights = torchvision.models.detection.SSDLite320_MobileNet_V3_Large_Weights.DEFAULT
    torch.manual_seed(0)
    net = torchvision.models.get_model(
        "ssdlite320_mobilenet_v3_large", weights=None, weights_backbone=None, num_classes=91
    )
    path = cache_path(weights)
    path.parent.mkdir(parents=True)
    torch.save(net.state_dict(), path)
    # a dataset whose category ids stop at 5 is covered by COCO's 91 outputs
    model = FAMILY.build("ssdlite320_mobilenet_v3_large", "detection", num_classes=6)
    assert model.weights.source == "pretrained:SSDLite320_MobileNet_V3_Large_Weights.COCO_V1"
    (pred,) = model.predict(images[:1])
    assert pred["boxes"].shape[1] == 4
    assert set(pred["labels"].tolist()) <= set(range(1, 91))


def test_pretrained_class_count_must_fit(offline: Path) -> None:
    # labels are output indices: at least as many outputs as the dataset's label range
    with pytest.raises(ModelError, match="predicts 1000 classes but the dataset needs 1001"):
        FAMILY.build("mobilenet_v3_small", "classification", num_classes=1001)
    with pytest.raises(ModelError, match="predicts 21 classes but the dataset needs 150"):
        FAMILY.build("lraspp_mobilenet_v3_large", "segmentation", num_classes=150)
    with pytest.raises(ModelError, match="predicts 91 classes but the dataset needs 200"):
        FAMILY.build("ssdlite320_mobilenet_v3_large", "detection", num_classes=200)
    # fewer is fine (ImageNet weights, labels up to 5; COCO ids below 4): on to the cache
    with pytest.raises(ModelError, match="not in the torch hub cache"):
        FAMILY.build("mobilenet_v3_small", "classification", num_classes=5)
    with pytest.raises(ModelError, match="not in the torch hub cache"):
        FAMILY.build("ssdlite320_mobilenet_v3_large", "detection", num_classes=4)


def test_corrupt_cache_file_is_reported(offline: Path) -> None:
    path = cache_path(torchvision.models.MobileNet_V3_Small_Weights.DEFAULT)
    path.parent.mkdir(parents=True)
    torch.save({"nothing": torch.zeros(1)}, path)
    with pytest.raises(ModelError, match=r"do not load .* delete the file"):
        FAMILY.build("mobilenet_v3_small", "classification")


def test_unknown_model_suggests_close_matches() -> None:
    with pytest.raises(ModelError, match=r"no classification model 'resnet5O'.*resnet50"):
        FAMILY.build("resnet5O", "classification", "random")
    with pytest.raises(ModelError, match="fasterrcnn_resnet50_fpn"):
        FAMILY.build("fasterrcnn_resnet50", "detection", "random")


def test_model_of_another_task_is_refused() -> None:
    with pytest.raises(ModelError, match="resnet18 is a classification model, not a detection"):
        FAMILY.build("resnet18", "detection", "random")
    with pytest.raises(ModelError, match="is a segmentation model"):
        FAMILY.build("lraspp_mobilenet_v3_large", "classification", "random")
    with pytest.raises(ModelError, match="video, optical-flow or quantized"):
        FAMILY.build("r3d_18", "classification", "random")
    with pytest.raises(ModelError, match="not 'captioning'"):
        FAMILY.build("resnet18", "captioning", "random")


def test_devices() -> None:
    if not torch.cuda.is_available():
        with pytest.raises(ModelError, match="CUDA is not available"):
            FAMILY.build("mobilenet_v3_small", "classification", "random", device="cuda")
    with pytest.raises(ModelError, match="unknown device"):
        FAMILY.build("mobilenet_v3_small", "classification", "random", device="toaster")


def test_registered(registry: Any) -> None:
    entry = registry.get("models", "torchvision")
    assert entry.obj is TorchvisionFamily
    assert set(TorchvisionFamily.tasks) == {"classification", "detection", "segmentation"}
