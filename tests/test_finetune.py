"""`bench finetune`: training on compressed images, determinism, resume, the report.

Small, randomly initialised torchvision models on tiny datasets made from crops of the
photos that ship inside installed packages (classification: a labels CSV; detection: a
COCO file with painted boxes; segmentation: a masks/ folder), one torch thread and
codec work in-process, so the module stays well under two minutes on two cores (the
CI-sized scenes demonstration is in test_finetune_scenes.py).
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from lossybench import hookimpl
from lossybench.dataset import Sample
from lossybench.engine.finetune.config import FinetuneConfig, make_config
from lossybench.engine.finetune.evaluate import recovered_fraction, summarize
from lossybench.engine.finetune.execute import Callbacks, finetune
from lossybench.engine.finetune.interpolate import INTERPOLATION_STEPS, interpolate
from lossybench.engine.finetune.resolve import resolve
from lossybench.engine.finetune.sampler import Sampler
from lossybench.engine.finetune.state import STATE_FILE
from lossybench.engine.finetune.train import lr_at
from lossybench.errors import DatasetError, LossybenchError, ModelError, UnknownNameError
from lossybench.image import load_image
from lossybench.model import LoadedModel, ModelFamily, WeightsInfo
from lossybench.plugins.datasets.package_photos import photo_path
from lossybench.registry import load_registry

PHOTOS = ("astronaut", "chelsea", "coffee")


# -- tiny datasets ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """128×128 crops: labels.csv (class = photo), masks/ (bright vs dark), COCO boxes."""
    root = tmp_path_factory.mktemp("ftdata")
    (root / "images").mkdir()
    (root / "masks").mkdir()
    rng = np.random.default_rng(0)
    rows = []
    coco: dict[str, Any] = {
        "images": [], "annotations": [],
        "categories": [{"id": 1, "name": "red"}, {"id": 2, "name": "blue"}],
    }
    size = 128
    for label, stem in enumerate(PHOTOS):
        photo = load_image(photo_path(stem))
        for i in range(3):
            y = int(rng.integers(0, photo.shape[0] - size))
            x = int(rng.integers(0, photo.shape[1] - size))
            crop = photo[y : y + size, x : x + size].copy()
            name = f"{stem}_{i}.png"
            Image.fromarray(crop).save(root / "images" / name)
            mask = (crop.mean(axis=2) > 110).astype(np.uint8)
            Image.fromarray(mask, "L").save(root / "masks" / name)
            rows.append((f"images/{name}", label))
            # detection: two painted rectangles on a copy, in their own folder
            image_id = len(coco["images"]) + 1
            for k, colour in enumerate(((220, 30, 30), (30, 30, 220))):
                w, h = (int(v) for v in rng.integers(20, 48, 2))
                x0, y0 = int(rng.integers(0, size - w)), int(rng.integers(0, size - h))
                crop[y0 : y0 + h, x0 : x0 + w] = colour
                coco["annotations"].append({
                    "id": len(coco["annotations"]) + 1, "image_id": image_id,
                    "category_id": k + 1, "bbox": [x0, y0, w, h], "area": w * h, "iscrowd": 0,
                })
            (root / "det").mkdir(exist_ok=True)
            Image.fromarray(crop).save(root / "det" / name)
            coco["images"].append(
                {"id": image_id, "file_name": name, "width": size, "height": size}
            )
    with open(root / "labels.csv", "w", newline="") as f:
        csv.writer(f).writerows([("image", "label"), *rows])
    (root / "classes.json").write_text(json.dumps({"classes": ["dark", "bright"]}))
    (root / "det" / "annotations.json").write_text(json.dumps(coco))
    return root


def config(data: Path, out: Path, **kw: Any) -> FinetuneConfig:
    base: dict[str, Any] = {
        "task": "classification",
        "model": "torchvision:mobilenet_v3_small",
        "weights": "random",
        "train_dataset": f"labels:{data / 'labels.csv'}",
        "val_dataset": f"labels:{data / 'labels.csv'}",
        "codecs": ["jpeg"],
        "bpp_range": (0.4, 1.5),
        "eval_bpp": [0.5],
        "eval_limit": 2,
        "clean_fraction": 0.5,
        "steps": 4,
        "batch_size": 3,
        "lr": 3e-3,
        "freeze_bn": False,  # random BatchNorm statistics are meaningless
        "workers": 0,
        "threads": 1,
        "out": str(out),
    }
    base.update(kw)
    return make_config(base)


def weights_of(out: Path) -> dict[str, torch.Tensor]:
    return torch.load(out / "model.pt", weights_only=True)["model"]


def same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def registry_():
    return load_registry()


@pytest.fixture(scope="module")
def classification_run(data: Path, tmp_path_factory: pytest.TempPathFactory, registry_):
    """One uninterrupted 8-step classification finetune shared by several tests."""
    out = tmp_path_factory.mktemp("ft-cls")
    cfg = config(data, out, steps=8)
    steps: list[dict[str, Any]] = []
    outcome = finetune(resolve(cfg, registry_), Callbacks(on_step=steps.append))
    return cfg, outcome, steps


# -- training ---------------------------------------------------------------------------------
def test_loss_decreases_and_report_is_complete(classification_run) -> None:
    cfg, outcome, steps = classification_run
    report = outcome.report
    losses = [h["loss"] for h in report["history"]]
    assert len(losses) == 8 and [h["step"] for h in report["history"]] == list(range(1, 9))
    assert np.mean(losses[-3:]) < np.mean(losses[:3])
    assert [s["step"] for s in steps] == list(range(1, 9))
    assert all(s["images_per_second"] > 0 for s in steps)
    assert report["train"]["images_seen"] == 8 * 3
    assert 0 < report["train"]["compressed_seen"] < 8 * 3  # clean fraction 0.5
    assert report["format"] == "lossybench-finetune/1"
    assert report["config_sha256"] == cfg.digest()
    s = report["summary"]
    assert s["headline"] == "top1" and [p["target"] for p in s["points"]] == [0.5]
    assert s["clean_change"] == pytest.approx(s["clean_after"] - s["clean_before"])
    json.dumps(report, allow_nan=False)
    files = {p.name for p in outcome.out.iterdir()}
    assert {"model.pt", "finetune.json"} <= files and STATE_FILE not in files
    assert json.loads((outcome.out / "finetune.json").read_text())["finetuned"]["sha256"]


def test_same_seed_same_weights(data: Path, tmp_path: Path, classification_run, registry_) -> None:
    _, outcome, _ = classification_run
    again = config(data, tmp_path / "again", steps=8)
    finetune(resolve(again, registry_))
    assert same(weights_of(outcome.out), weights_of(tmp_path / "again"))
    other = config(data, tmp_path / "seed1", steps=2, seed=1)
    finetune(resolve(other, registry_))
    assert not same(weights_of(tmp_path / "again"), weights_of(tmp_path / "seed1"))


def test_resume_after_interruption_gives_identical_weights(
    data: Path, tmp_path: Path, classification_run, registry_
) -> None:
    _, outcome, _ = classification_run
    out = tmp_path / "resumed"
    first = finetune(resolve(config(data, out, steps=8, stop_after=3), registry_))
    assert first.report is None and first.stopped_at == 3
    assert (out / STATE_FILE).is_file() and not (out / "model.pt").exists()
    messages: list[str] = []
    second = finetune(resolve(config(data, out, steps=8), registry_),
                      Callbacks(on_message=messages.append))
    assert any("resuming" in m and "step 3/8" in m for m in messages)
    assert same(weights_of(out), weights_of(outcome.out))
    assert second.report["history"] == outcome.report["history"][:3] + second.report[
        "history"][3:]
    assert [h["loss"] for h in second.report["history"]] == pytest.approx(
        [h["loss"] for h in outcome.report["history"]]
    )
    assert second.report["before"] == outcome.report["before"]
    # a different configuration never resumes someone else's state
    with pytest.raises(LossybenchError, match="different configuration"):
        finetune(resolve(config(data, out, steps=9), registry_))


def test_checkpoint_is_what_bench_run_weights_evaluates(data: Path, classification_run) -> None:
    cfg, outcome, _ = classification_run
    proc = subprocess.run(
        [sys.executable, "-m", "lossybench", "run", "--task", "classification",
         "--model", "torchvision:mobilenet_v3_small", "--weights", str(outcome.out / "model.pt"),
         "--dataset", cfg.val_dataset, "--limit", "2", "-c", "jpeg", "--bpp", "0.5",
         "--workers", "1", "--no-plot", "--json", "--out", str(outcome.out / "run")],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    after = outcome.report["after"]
    assert result["clean"]["metrics"] == after["clean"]
    assert result["codecs"][0]["points"][0]["metrics"] == after["codecs"]["jpeg"][0]["metrics"]
    assert result["model"]["weights"]["sha256"] == outcome.report["finetuned"]["sha256"]


def test_accumulation_and_epochs(data: Path, tmp_path: Path, registry_) -> None:
    cfg = config(data, tmp_path / "acc", steps=None, epochs=1.0, batch_size=2, accumulate=2,
                 schedule="step", warmup=0)
    res = resolve(cfg, registry_)
    assert res.total_steps == 3  # ceil(9 images / (2 × 2))
    report = finetune(res).report
    assert [h["images"] for h in report["history"]] == [4, 4, 4]
    assert [h["lr"] for h in report["history"]] == pytest.approx([3e-3, 3e-3, 3e-4])


@pytest.mark.parametrize(
    ("task", "model", "dataset"),
    [
        ("segmentation", "torchvision:lraspp_mobilenet_v3_large", "masks:{data}"),
        ("detection", "torchvision:fasterrcnn_mobilenet_v3_large_320_fpn",
         "coco:{data}/det/annotations.json"),
    ],
)
def test_dense_tasks_train_and_reload(
    data: Path, tmp_path: Path, registry_, task: str, model: str, dataset: str
) -> None:
    spec = dataset.format(data=data)
    cfg = config(data, tmp_path / task, task=task, model=model, train_dataset=spec,
                 val_dataset=spec, steps=2, batch_size=2, eval_bpp=[1.0], lr=1e-3)
    res = resolve(cfg, registry_)
    report = finetune(res).report
    assert all(np.isfinite(h["loss"]) and h["loss"] > 0 for h in report["history"])
    assert report["summary"]["headline"] == ("miou" if task == "segmentation" else "map")
    family = registry_.get("models", "torchvision").obj()
    rebuilt = family.build(model.split(":")[1], task, str(tmp_path / task / "model.pt"),
                           num_classes=res.details["val"]["num_classes"])
    trained = res.model.trainable().state_dict()
    assert all(torch.equal(v.float(), trained[k].float())
               for k, v in rebuilt.trainable().state_dict().items())


# -- targets ---------------------------------------------------------------------------------
def test_training_targets_follow_the_input_geometry(data: Path, registry_) -> None:
    from lossybench.engine.run.resolve import open_dataset

    seg_ds = open_dataset(f"masks:{data}", registry_)
    seg = registry_.get("tasks", "segmentation").obj(seg_ds)
    seg.prepare()
    sample = next(iter(seg_ds.samples()))
    full = seg.training_target(sample, (128, 128))
    big = seg.training_target(sample, (256, 256))
    assert full.dtype == torch.int64 and big.shape == (256, 256)
    assert torch.equal(big[::2, ::2], full)  # nearest: every label comes from the mask
    det_ds = open_dataset(f"coco:{data}/det/annotations.json", registry_)
    det = registry_.get("tasks", "detection").obj(det_ds)
    det.prepare()
    sample = next(iter(det_ds.samples()))
    t1, t2 = det.training_target(sample, (128, 128)), det.training_target(sample, (64, 256))
    assert t1["boxes"].shape == (2, 4) and t1["labels"].tolist() == [1, 2]
    assert torch.allclose(t2["boxes"], t1["boxes"] * torch.tensor([2.0, 0.5, 2.0, 0.5]))
    cls_ds = open_dataset(f"labels:{data / 'labels.csv'}", registry_)
    cls = registry_.get("tasks", "classification").obj(cls_ds)
    assert cls.training_target(next(iter(cls_ds.samples())), (1, 1)).item() == 0


@pytest.mark.parametrize(("flip", "turns"), [(True, 0), (False, 1), (True, 3), (False, 2)])
def test_augmented_targets_follow_the_image(data: Path, registry_, flip: bool,
                                            turns: int) -> None:
    """Mirror + quarter turns: masks move with the pixels, boxes stay tight around them."""
    from lossybench.engine.finetune.train import augmented
    from lossybench.engine.run.resolve import open_dataset

    det_ds = open_dataset(f"coco:{data}/det/annotations.json", registry_)
    det = registry_.get("tasks", "detection").obj(det_ds)
    det.prepare()
    sample = next(iter(det_ds.samples()))
    size = (96, 128)  # not square: a quarter turn swaps H and W
    t = det.training_target(sample, size)
    painted = np.zeros((*size, len(t["boxes"])), np.uint8)
    for k, (x0, y0, x1, y1) in enumerate(t["boxes"].round().int().tolist()):
        painted[y0:y1, x0:x1, k] = 1
    moved = augmented(painted, flip, turns)
    boxes = det.transform_target(t, size, flip, turns)["boxes"]
    for k, box in enumerate(boxes.tolist()):
        ys, xs = np.nonzero(moved[..., k])
        assert box == pytest.approx([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], abs=0.51)
    seg_ds = open_dataset(f"masks:{data}", registry_)
    seg = registry_.get("tasks", "segmentation").obj(seg_ds)
    seg.prepare()
    sample = next(iter(seg_ds.samples()))
    mask = seg.training_target(sample, size)
    expect = augmented(mask.numpy(), flip, turns)
    assert np.array_equal(seg.transform_target(mask, size, flip, turns).numpy(), expect)
    cls_ds = open_dataset(f"labels:{data / 'labels.csv'}", registry_)
    cls = registry_.get("tasks", "classification").obj(cls_ds)
    label = cls.training_target(next(iter(cls_ds.samples())), size)
    assert cls.transform_target(label, size, flip, turns) is label


def test_sampler_draws_augmentation_only_when_asked(data: Path, tmp_path: Path) -> None:
    plain = [Sampler(config(data, tmp_path), 9, 1).draw(g) for g in range(400)]
    assert not any(d.flip or d.turns for d in plain)
    flips = [Sampler(config(data, tmp_path, augment="flip"), 9, 1).draw(g) for g in range(400)]
    assert 0.4 < np.mean([d.flip for d in flips]) < 0.6 and not any(d.turns for d in flips)
    assert [(d.index, d.codec, d.bpp) for d in flips] == [(d.index, d.codec, d.bpp) for d in plain]
    di = [Sampler(config(data, tmp_path, augment="dihedral"), 9, 1).draw(g) for g in range(400)]
    assert {d.turns for d in di} == {0, 1, 2, 3} and 0.4 < np.mean([d.flip for d in di]) < 0.6


def test_sampler_is_a_pure_function_of_seed_and_position(data: Path, tmp_path: Path) -> None:
    cfg = config(data, tmp_path, bpp_range=(0.1, 0.3), clean_fraction=0.25)
    a, b = Sampler(cfg, 9, 2), Sampler(cfg, 9, 2)
    draws = [a.draw(g) for g in range(900)]
    assert draws[500] == b.draw(500) and draws[3] == b.draw(3)
    assert sorted(d.index for d in draws[:9]) == list(range(9))  # an epoch is a permutation
    rates = [d.bpp for d in draws if d.bpp is not None]
    assert min(rates) >= 0.1 and max(rates) <= 0.3
    assert np.median(np.log(rates)) == pytest.approx(np.log(np.sqrt(0.03)), abs=0.1)
    assert 0.18 < sum(d.codec is None for d in draws) / 900 < 0.32
    assert {d.codec for d in draws} == {None, 0, 1}


def test_lr_schedules() -> None:
    assert lr_at(0, 100, 1.0, 10, "cosine") == pytest.approx(0.1)
    assert lr_at(10, 100, 1.0, 10, "cosine") == pytest.approx(1.0)
    assert lr_at(55, 100, 1.0, 10, "cosine") == pytest.approx(0.5)
    assert lr_at(99, 100, 1.0, 0, "step") == pytest.approx(0.1)
    assert lr_at(50, 100, 1.0, 0, "constant") == 1.0


# -- the report ------------------------------------------------------------------------------
def test_recovered_fraction_on_a_hand_made_pair() -> None:
    """The study's segmentation numbers: 44.5 clean, 30.5 at 0.1 bpp, 42 after: 82 %."""

    def ev(clean: float, at: dict[float, float]) -> dict[str, Any]:
        return {"clean": {"miou": clean}, "codecs": {"jpeg": [
            {"target": t, "bpp_mean": t, "metrics": {"miou": v}} for t, v in at.items()
        ]}}

    s = summarize("miou", ev(0.445, {0.1: 0.305, 0.3: 0.445}), ev(0.44, {0.1: 0.42, 0.3: 0.44}))
    p01, p03 = s["points"]
    assert p01["recovered_fraction"] == pytest.approx(0.115 / 0.14)
    assert round(100 * p01["recovered_fraction"]) == 82
    assert p01["drop"] == pytest.approx(0.14)
    assert p03["recovered_fraction"] is None and p03["note"] == "no drop to recover"
    assert s["clean_change"] == pytest.approx(-0.005)
    assert recovered_fraction(0.5, 0.3, 0.2) == pytest.approx(-0.5)  # worse than before
    assert recovered_fraction(None, 0.3, 0.2) is None


# -- interpolation within a clean budget ----------------------------------------------------
@pytest.mark.parametrize(("budget", "selection"),
                         [(0.0, "holdout"), (1.0, "holdout"), (0.0, "dataset")])
def test_clean_budget_interpolates_base_and_finetuned_weights(
    data: Path, tmp_path: Path, registry_, budget: float, selection: str
) -> None:
    """The saved weights are base + alpha·(finetuned − base), alpha the largest that keeps
    the selection images' clean top-1 within the budget (1.0: any loss, so alpha = 1)."""
    kw: dict[str, Any] = {"steps": 6, "lr": 3e-2, "max_clean_drop": budget}
    if selection == "holdout":
        kw["holdout"] = 3
        plain: dict[str, Any] = {"train_limit": 6}  # the holdout run trains on these
    else:
        kw["select_dataset"] = f"labels:{data / 'labels.csv'}"
        kw["select_dataset_options"] = {}
        plain = {}
    res = resolve(config(data, tmp_path / "ip", **kw), registry_)
    n_train, n_select = (6, 3) if selection == "holdout" else (9, 9)
    assert len(res.train_samples) == n_train and len(res.select_samples) == n_select
    base = {k: v.detach().clone() for k, v in res.model.trainable().state_dict().items()}
    report = finetune(resolve(config(data, tmp_path / "ip2", **kw), registry_)).report
    finetune(resolve(config(data, tmp_path / "plain", steps=6, lr=3e-2, **plain), registry_))
    tuned = weights_of(tmp_path / "plain")

    ip = report["interpolation"]
    alpha, tried = ip["alpha"], ip["tried"]
    assert tried[0]["alpha"] == 1.0 and ip["selection_images"] == n_select
    assert report["train"]["images"] == n_train
    assert report["train"]["holdout_images"] == (3 if selection == "holdout" else 0)
    assert ("held-out" in ip["selection"]) == (selection == "holdout")
    floor = ip["base"]["clean"] - budget
    for t in tried:
        assert t["within_budget"] == (t["clean"] >= floor - 1e-12)
    if budget == 1.0:
        assert alpha == 1.0 and len(tried) == 1
    else:
        assert len(tried) in (1, 1 + INTERPOLATION_STEPS)
        if alpha < 1.0:  # the next step up missed the budget
            assert any(not t["within_budget"] and alpha < t["alpha"] <= alpha + 1 / 32
                       for t in tried)
    want = interpolate(base, tuned, alpha)
    got = weights_of(tmp_path / "ip2")
    assert all(torch.allclose(got[k].float(), want[k].float(), atol=1e-6) for k in want)
    assert torch.load(tmp_path / "ip2" / "model.pt", weights_only=True)["finetune"]["alpha"] \
        == alpha


# -- distillation (--distill) ------------------------------------------------------------------
def test_soft_target_divergence_is_the_kl_of_teacher_to_student() -> None:
    from lossybench.kits.tensors import soft_target_divergence

    g = torch.Generator().manual_seed(0)
    student = torch.randn(2, 5, 3, 4, generator=g, requires_grad=True)
    teacher = torch.randn(2, 5, 3, 4, generator=g)
    got = soft_target_divergence(student, teacher)
    oracle = torch.nn.functional.kl_div(  # KL(t || s) per position, summed over classes
        student.log_softmax(1), teacher.log_softmax(1), log_target=True, reduction="none"
    ).sum(1).mean()
    assert float(got.detach()) == pytest.approx(float(oracle.detach()), rel=1e-6)
    assert float(got.detach()) > 0.1
    assert float(soft_target_divergence(teacher, teacher)) == pytest.approx(0.0, abs=1e-6)
    got.backward()
    assert student.grad is not None and float(student.grad.abs().sum()) > 0


def test_distillation_loss_is_the_task_loss_plus_the_weighted_divergence(
    data: Path, tmp_path: Path, registry_
) -> None:
    from lossybench.engine.finetune.train import make_teacher
    from lossybench.kits.tensors import soft_target_divergence

    res = resolve(config(data, tmp_path / "x"), registry_)
    model = res.model
    model.trainable().eval()  # no BatchNorm batch statistics: outputs depend on inputs only
    samples = res.train_samples[:3]
    inputs = [model.training_input(s.image())[0] for s in samples]
    clean = [model.training_input(s.image()[::-1].copy())[0] for s in samples]
    targets = [res.task.training_target(s, (1, 1)) for s in samples]
    teacher = make_teacher(model.trainable())
    assert not any(p.requires_grad for p in teacher.parameters())
    with torch.no_grad():
        task_loss = float(model.loss(inputs, targets))
        assert float(model.distillation_loss(inputs, targets, inputs, teacher, 5.0)) \
            == pytest.approx(task_loss, abs=1e-5)  # the student *is* the teacher here
        for p in teacher.parameters():  # a teacher that disagrees with the student
            p.add_(0.05 * torch.randn(p.shape, generator=torch.Generator().manual_seed(1)))
        kl = float(soft_target_divergence(model.trainable()(torch.stack(inputs)),
                                          teacher(torch.stack(clean))))
        got = float(model.distillation_loss(inputs, targets, clean, teacher, 2.0))
    assert kl > 0 and got == pytest.approx(task_loss + 2.0 * kl, rel=1e-4)


def test_reference_models_distill(registry_) -> None:
    from lossybench.engine.finetune.train import make_teacher, set_train_mode
    from lossybench.kits.tensors import soft_target_divergence

    family = registry_.get("models", "reference").obj()
    seg = family.build("scenes-segmenter", "segmentation")
    g = torch.Generator().manual_seed(0)
    inputs = [torch.randn(3, 64, 64, generator=g) for _ in range(2)]
    clean = [x + 0.3 * torch.randn(3, 64, 64, generator=g) for x in inputs]
    targets = [torch.randint(0, 7, (64, 64), generator=g) for _ in range(2)]
    teacher = make_teacher(seg.trainable())
    with torch.no_grad():
        task_loss = float(seg.loss(inputs, targets))
        kl = float(soft_target_divergence(seg.trainable()(torch.stack(inputs))["out"],
                                          teacher(torch.stack(clean))["out"]))
        got = float(seg.distillation_loss(inputs, targets, clean, teacher, 0.5))
    assert seg.distills() and kl > 0 and got == pytest.approx(task_loss + 0.5 * kl, rel=1e-4)

    # the detector: FCOS's losses + weight × the head-output divergence
    det = family.build("scenes-detector", "detection")
    set_train_mode(det.trainable(), freeze_bn=True)  # FCOS returns losses in train mode
    images = [torch.rand(3, 96, 128, generator=g) for _ in range(2)]
    boxes = [{"boxes": torch.tensor([[10.0, 10.0, 50.0, 40.0]]), "labels": torch.tensor([2])}
             for _ in range(2)]
    teacher = make_teacher(det.trainable())
    with torch.no_grad():
        task_loss = float(det.loss(images, boxes))
        same_input = float(det.distillation_loss(images, boxes, images, teacher, 3.0))
        darker = float(det.distillation_loss(images, boxes, [x * 0.7 for x in images],
                                             teacher, 3.0))
    assert det.distills() and same_input == pytest.approx(task_loss, rel=1e-5)
    assert darker > task_loss + 0.1


def test_distilled_finetune_resumes_to_identical_weights(
    data: Path, tmp_path: Path, registry_
) -> None:
    whole = finetune(resolve(config(data, tmp_path / "whole", steps=6, distill=1.0),
                             registry_))
    plain = config(data, tmp_path / "p", steps=6)
    assert whole.report["config"]["distill"] == 1.0
    assert config(data, tmp_path / "p", steps=6, distill=1.0).digest() != plain.digest()
    assert "distill" not in plain.identity()  # old digests stay valid
    out = tmp_path / "resumed"
    assert finetune(resolve(config(data, out, steps=6, distill=1.0, stop_after=2),
                            registry_)).stopped_at == 2
    finetune(resolve(config(data, out, steps=6, distill=1.0), registry_))
    assert same(weights_of(out), weights_of(whole.out))
    finetune(resolve(config(data, tmp_path / "plain", steps=6), registry_))
    assert not same(weights_of(tmp_path / "plain"), weights_of(whole.out))


def test_train_only_leaves_every_other_parameter_at_the_base_weights(
    data: Path, tmp_path: Path, registry_
) -> None:
    base = resolve(config(data, tmp_path / "b"), registry_).model.trainable().state_dict()
    res = resolve(config(data, tmp_path / "x", train_only=["classifier.*"], freeze_bn=False),
                  registry_)
    report = finetune(res).report
    tuned = weights_of(tmp_path / "x")
    moved = {k for k in tuned if not torch.equal(tuned[k].float(), base[k].float())}
    assert moved and all(k.startswith("classifier.") for k in moved), sorted(moved)[:5]
    # frozen blocks keep their BatchNorm statistics too, even with --train-bn
    assert not any(k.endswith("running_mean") for k in moved)
    counts = report["train"]["parameters"]
    assert 0 < counts["trained"] < counts["total"]
    assert report["config"]["train_only"] == ["classifier.*"]
    with pytest.raises(LossybenchError, match=r"matches no parameter.*features\.0\.\*"):
        resolve(config(data, tmp_path / "y", train_only=["backbone.layer1.*"]), registry_)


def test_distill_is_refused_where_the_family_has_no_divergence(
    data: Path, tmp_path: Path, registry_
) -> None:
    spec = f"coco:{data}/det/annotations.json"
    with pytest.raises(ModelError, match="does not support --distill for detection"):
        resolve(config(data, tmp_path / "x", task="detection", distill=1.0,
                       model="torchvision:fasterrcnn_mobilenet_v3_large_320_fpn",
                       train_dataset=spec, val_dataset=spec), registry_)
    with pytest.raises(LossybenchError, match="distill"):
        config(data, tmp_path, distill=-1.0)


# -- bad inputs fail before training -----------------------------------------------------------
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"bpp_range": (0.3, 0.1)}, "LO < HI"),
        ({"bpp_range": (0.0, 0.3)}, "outside"),
        ({"clean_fraction": 1.5}, "clean_fraction"),
        ({"clean_fraction": -0.1}, "clean_fraction"),
        ({"bpp": [0.1]}, "exactly one"),
        ({"steps": None}, "steps or epochs"),
        ({"codecs": []}, "codecs"),
        ({"eval_bpp": [50.0]}, "outside"),
        ({"accumulate": 0}, "accumulate"),
        ({"augment": "rotate"}, "augment"),
        ({"max_clean_drop": 0.02}, "select_dataset"),
        ({"max_clean_drop": 0.02, "holdout": 2, "select_dataset": "labels:x.csv"}, "not both"),
        ({"max_clean_drop": 1.5, "holdout": 2}, "max_clean_drop"),
    ],
)
def test_bad_settings_are_refused(data: Path, tmp_path: Path, change: dict[str, Any],
                                  message: str) -> None:
    with pytest.raises(LossybenchError, match=message):
        config(data, tmp_path, **change)


def test_a_holdout_must_leave_training_images(data: Path, tmp_path: Path, registry_) -> None:
    with pytest.raises(DatasetError, match="leaves no training images"):
        resolve(config(data, tmp_path / "x", holdout=9, max_clean_drop=0.02), registry_)


def test_unknown_codec_and_task_mismatch_fail_before_training(
    data: Path, tmp_path: Path, registry_
) -> None:
    with pytest.raises(UnknownNameError, match="unknown codec 'jpg'"):
        resolve(config(data, tmp_path / "x", codecs=["jpg"]), registry_)
    with pytest.raises(LossybenchError, match="classification targets"):
        resolve(config(data, tmp_path / "x", task="segmentation",
                       model="torchvision:lraspp_mobilenet_v3_large"), registry_)
    assert not (tmp_path / "x").exists()


def test_family_without_training_api_is_refused(data: Path, tmp_path: Path) -> None:
    class Frozen(LoadedModel):
        def preprocess(self, image: np.ndarray) -> Any:
            return image

        def forward(self, inputs: Any, sizes: Any) -> list[Any]:
            return [np.zeros(3, np.float32) for _ in inputs]

    class FrozenFamily(ModelFamily):
        name = "frozen"
        tasks = ("classification",)

        def build(self, model: str, task: str, weights: str | None = None,
                  device: str = "cpu", num_classes: int | None = None) -> LoadedModel:
            return Frozen("frozen", model, task, WeightsInfo("random"))

    class Plugin:
        @hookimpl
        def lossybench_models(self) -> list[type[ModelFamily]]:
            return [FrozenFamily]

    reg = load_registry(extra_plugins=[("frozen", Plugin())])
    with pytest.raises(ModelError, match="'frozen' does not support finetuning"):
        resolve(config(data, tmp_path / "f", model="frozen:net"), reg)
    assert not (tmp_path / "f").exists()
    with pytest.raises(ModelError, match="does not support finetuning"):
        Frozen("frozen", "x", "classification", WeightsInfo("random")).trainable()


def bench(*args: str, timeout: int = 120) -> subprocess.CompletedProcess[str]:
    """``python -m lossybench ARGS`` in a wide terminal, its output captured."""
    return subprocess.run([sys.executable, "-m", "lossybench", *args],
                          capture_output=True, text=True, timeout=timeout,
                          env={**__import__("os").environ, "COLUMNS": "200"})


def tiny_finetune(data: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """Two steps of a random MobileNet on the labelled photos, through the CLI."""
    return bench(
        "finetune", "--task", "classification",
        "--model", "torchvision:mobilenet_v3_small", "--weights", "random",
        "--train-dataset", f"labels:{data / 'labels.csv'}",
        "--val-dataset", f"labels:{data / 'labels.csv'}", "--task-option", "num_classes=1000",
        "-c", "jpeg", "--bpp", "0.5", "--steps", "2", "--batch-size", "2",
        "--workers", "0", "--out", str(out), *extra, timeout=600,
    )


def test_cli_help_and_a_bad_range(tmp_path: Path, data: Path) -> None:
    proc = bench("finetune", "--help")
    assert proc.returncode == 0 and "--bpp-range" in proc.stdout and "Examples" in proc.stdout
    proc = bench("finetune", "--task", "classification", "--model",
                 "torchvision:mobilenet_v3_small", "--weights", "random", "--train-dataset",
                 f"labels:{data / 'labels.csv'}", "--val-dataset", f"labels:{data / 'labels.csv'}",
                 "-c", "jpeg,webp", "--bpp-range", "0.3:0.1", "--steps", "2", "--out",
                 str(tmp_path / "cli"))
    assert proc.returncode == 2 and "LO < HI" in proc.stderr
    assert not (tmp_path / "cli").exists()


def test_cli_trains_with_progress_and_writes_the_report(tmp_path: Path, data: Path) -> None:
    """The command end to end (progress bars, table, files), not just the library."""
    out = tmp_path / "cli-run"
    proc = tiny_finetune(data, out)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads((out / "finetune.json").read_text())
    assert report["summary"]["headline"] == "top1" and (out / "model.pt").stat().st_size > 0
    assert "recovered" in proc.stdout + proc.stderr


def test_cli_seeds_reports_the_spread(tmp_path: Path, data: Path) -> None:
    """--seeds 2: each seed in its own folder, seeds.json holds mean ± std of each figure
    computed from the two reports (checked here by hand)."""
    out = tmp_path / "seeds"
    proc = tiny_finetune(data, out, "--seeds", "2", "--seed", "3")
    assert proc.returncode == 0, proc.stderr[-2000:]
    reports = [json.loads((out / f"seed-{s}" / "finetune.json").read_text()) for s in (3, 4)]
    assert [r["config"]["seed"] for r in reports] == [3, 4]
    spread = json.loads((out / "seeds.json").read_text())
    after = [r["summary"]["clean_after"] for r in reports]
    assert spread["seeds"] == [3, 4]
    assert spread["clean_after"]["mean"] == pytest.approx(sum(after) / 2)
    assert spread["clean_after"]["values"] == pytest.approx(after)
    assert "mean ± std" in proc.stdout


def test_codec_lists_split_on_commas_but_keep_settings() -> None:
    from lossybench.cli.parse import split_codecs

    assert split_codecs(["jpeg,webp", "avif"]) == ["jpeg", "webp", "avif"]
    assert split_codecs(["jpeg:subsampling=4:2:0,x=1,webp"]) == [
        "jpeg:subsampling=4:2:0,x=1", "webp"]


# -- timm ---------------------------------------------------------------------------------------
def test_timm_loss_and_checkpoint_preprocessing(tmp_path: Path, astronaut: np.ndarray) -> None:
    """A finetuned checkpoint keeps the preprocessing its base weights were trained with."""
    from lossybench.plugins.models.timm_family import TimmFamily

    fam = TimmFamily()
    m = fam.build("resnet10t", "classification", "random", num_classes=3)
    x, _ = m.training_input(astronaut)
    loss = m.loss([x, x], [torch.tensor(0), torch.tensor(2)])
    assert loss.ndim == 0 and loss.requires_grad and torch.isfinite(loss)
    pre = {"input_size": [3, 96, 96], "interpolation": "bilinear", "crop_pct": 1.0,
           "crop_mode": "squash", "mean": [0.5] * 3, "std": [0.5] * 3, "source": "mine"}
    torch.save({"model": m.state_dict_for_checkpoint(), "preprocessing": pre},
               tmp_path / "m.pt")
    again = fam.build("resnet10t", "classification", str(tmp_path / "m.pt"), num_classes=3)
    assert again.preprocessing["input_size"] == [3, 96, 96]
    assert again.training_input(astronaut)[1] == (96, 96)
    assert "saved with the checkpoint (mine)" in again.preprocessing["source"]


def test_sample_targets_need_the_task(data: Path) -> None:
    from lossybench.task import Task

    class Bare(Task):
        name = "bare"

        def outcome(self, sample: Sample, prediction: Any) -> dict[str, Any]:
            return {}

        def aggregate(self, outcomes: Any) -> dict[str, float]:
            return {}

    with pytest.raises(LossybenchError, match="does not support finetuning"):
        Bare(None).training_target(Sample("a", "b"), (1, 1))  # type: ignore[arg-type]
    with pytest.raises(LossybenchError, match="--augment none"):
        Bare(None).transform_target(None, (1, 1), True, 0)  # type: ignore[arg-type]
