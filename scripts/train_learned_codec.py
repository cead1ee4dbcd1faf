#!/usr/bin/env python
"""Train lossybench's built-in learned codec: a small CompressAI mean-scale hyperprior.

Why this exists: no pretrained CompressAI weights can be downloaded on an offline
machine, yet a default run should include a neural codec. This script trains one, on
CPU, in well under an hour, from colour photos that ship inside installed packages
(scikit-image, scikit-learn, matplotlib). The 20 foolbox ImageNet photos are the
evaluation set and are never read here.

Recipe (every number is recorded in the JSON config written next to the weights):

* architecture ``compressai.models.MeanScaleHyperprior(N, M)`` (mbt2018-mean), small N/M;
* random 128 px crops (a multiple of the hyperprior's stride, 64) from the photos at
  three scales (1, 1/√2, 1/2), with horizontal flips;
* loss ``λ·255²·MSE + bpp`` (CompressAI's ``RateDistortionLoss``); the likelihoods use
  additive noise, the synthesis transform sees straight-through rounded latents
  (``round(y − μ) + μ``) so it is trained on what the decoder really receives;
* an auxiliary loss for the entropy bottleneck's quantiles, which are also refined
  exactly with ``update(update_quantiles=True)`` before saving;
* one base model at a middle λ, then a warm-started chain outwards to the lower and
  higher λ, so every rate point costs only a short fine-tune;
* weights are stored in float16 without the entropy coder's tables (they are rebuilt
  on load by ``update(force=True)``), which keeps the shipped files small.

Deterministic for a given thread count: everything is seeded and runs on CPU.

Reproduce (about 40 minutes on 2 cores):

    .venv/bin/python scripts/train_learned_codec.py --out plugins/codecs/weights
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import math
import platform
import sys
import time
from importlib.metadata import distribution
from pathlib import Path

import numpy as np
import torch
from PIL import Image

#: (distribution, path) of every colour photo used for training. No foolbox photo.
TRAIN_PHOTOS: tuple[tuple[str, str], ...] = (
    ("scikit-image", "skimage/data/astronaut.png"),
    ("scikit-image", "skimage/data/chelsea.png"),
    ("scikit-image", "skimage/data/coffee.png"),
    ("scikit-image", "skimage/data/rocket.jpg"),
    ("scikit-image", "skimage/data/motorcycle_left.png"),
    ("scikit-image", "skimage/data/motorcycle_right.png"),
    ("scikit-image", "skimage/data/hubble_deep_field.jpg"),
    ("scikit-image", "skimage/data/retina.jpg"),
    ("scikit-image", "skimage/data/ihc.png"),
    ("scikit-learn", "sklearn/datasets/images/china.jpg"),
    ("scikit-learn", "sklearn/datasets/images/flower.jpg"),
    ("matplotlib", "matplotlib/mpl-data/sample_data/grace_hopper.jpg"),
)
SCALES = (1.0, 1 / math.sqrt(2), 0.5)
#: λ of each rate point, lowest rate first (CompressAI's zoo uses 0.0018 … 0.18).
DEFAULT_LAMBDAS = (0.0016, 0.0045, 0.013, 0.04, 0.13)
ARCH = "mbt2018-mean"
STEM = "lossybench-hyperprior"


def load_photos() -> list[np.ndarray]:
    """Every training photo at every scale, as (H, W, 3) uint8."""
    out = []
    for dist, rel in TRAIN_PHOTOS:
        path = Path(str(distribution(dist).locate_file(rel)))
        with Image.open(path) as img:
            img = img.convert("RGB")
            for s in SCALES:
                w, h = max(1, round(img.width * s)), max(1, round(img.height * s))
                im = img if s == 1.0 else img.resize((w, h), Image.Resampling.BICUBIC)
                out.append(np.asarray(im, dtype=np.uint8))
    return out


class Crops:
    """Seeded random crops with flips; images are drawn in proportion to their area."""

    def __init__(self, photos: list[np.ndarray], crop: int, seed: int) -> None:
        self.photos = [p for p in photos if min(p.shape[:2]) >= crop]
        area = np.array([p.shape[0] * p.shape[1] for p in self.photos], dtype=np.float64)
        self.p = area / area.sum()
        self.crop = crop
        self.rng = np.random.default_rng(seed)

    def batch(self, n: int) -> torch.Tensor:
        out = np.empty((n, self.crop, self.crop, 3), dtype=np.uint8)
        for i in range(n):
            img = self.photos[self.rng.choice(len(self.photos), p=self.p)]
            y = self.rng.integers(0, img.shape[0] - self.crop + 1)
            x = self.rng.integers(0, img.shape[1] - self.crop + 1)
            c = img[y : y + self.crop, x : x + self.crop]
            out[i] = c[:, ::-1] if self.rng.random() < 0.5 else c
        return torch.from_numpy(out).permute(0, 3, 1, 2).float().div_(255.0)


def rd_forward(net: torch.nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Forward pass: noisy likelihoods, straight-through rounded latents for g_s."""
    from compressai.ops import quantize_ste

    y = net.g_a(x)
    z = net.h_a(y)
    z_hat, z_lik = net.entropy_bottleneck(z)
    scales, means = net.h_s(z_hat).chunk(2, 1)
    _, y_lik = net.gaussian_conditional(y, scales, means=means)
    y_hat = quantize_ste(y - means) + means
    return net.g_s(y_hat), [y_lik, z_lik]


def train_one(
    net: torch.nn.Module,
    lmbda: float,
    steps: int,
    crops: Crops,
    batch: int,
    lr: float,
    log_every: int,
    tag: str,
    warmup: int = 0,
) -> dict[str, float]:
    """Train ``net`` in place at ``lmbda`` for ``steps``; cosine-decayed learning rate."""
    params = [p for n, p in net.named_parameters() if not n.endswith(".quantiles")]
    aux_params = [p for n, p in net.named_parameters() if n.endswith(".quantiles")]
    opt = torch.optim.Adam(params, lr=lr)
    aux_opt = torch.optim.Adam(aux_params, lr=1e-3)
    net.train()
    t0 = time.time()
    hist: list[tuple[float, float]] = []
    for step in range(1, steps + 1):
        for g in opt.param_groups:  # short linear warm-up, then cosine decay to 5 % of lr
            warm = min(1.0, step / warmup) if warmup else 1.0
            g["lr"] = warm * lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * (step - 1) / steps)))
        x = crops.batch(batch)
        x_hat, liks = rd_forward(net, x)
        n_px = x.shape[0] * x.shape[2] * x.shape[3]
        bpp = sum(torch.log(lk).sum() for lk in liks) / (-math.log(2) * n_px)
        mse = torch.mean((x_hat - x) ** 2)
        loss = lmbda * 255**2 * mse + bpp
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        aux_opt.zero_grad()
        net.aux_loss().backward()
        aux_opt.step()
        hist.append((bpp.item(), mse.item()))
        if step % log_every == 0 or step == steps:
            b = np.mean([h[0] for h in hist[-log_every:]])
            m = np.mean([h[1] for h in hist[-log_every:]])
            psnr = 10 * math.log10(1 / max(m, 1e-12))
            print(
                f"[{tag}] λ={lmbda:g} step {step}/{steps} bpp {b:.3f} psnr {psnr:.2f} "
                f"({(time.time() - t0) / step:.2f} s/step)",
                flush=True,
            )
    b = float(np.mean([h[0] for h in hist[-100:]]))
    m = float(np.mean([h[1] for h in hist[-100:]]))
    psnr = 10 * math.log10(1 / max(m, 1e-12))
    return {"train_bpp": b, "train_psnr": psnr, "seconds": time.time() - t0}


def export_state(net: torch.nn.Module) -> dict[str, torch.Tensor]:
    """float16 state dict without the entropy coder's tables (rebuilt on load)."""
    from compressai.entropy_models import EntropyBottleneck

    net.eval()
    for m in net.modules():
        if isinstance(m, EntropyBottleneck):
            m.update(force=True, update_quantiles=True)  # exact quantiles before saving
    skip = ("_quantized_cdf", "_offset", "_cdf_length", "scale_table")
    return {
        k: (v.half() if v.is_floating_point() else v).contiguous()
        for k, v in net.state_dict().items()
        if not k.endswith(skip)
    }


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--out", type=Path, default=Path("plugins/codecs/weights"))
    ap.add_argument("--N", type=int, default=40)
    ap.add_argument("--M", type=int, default=56)
    ap.add_argument("--lambdas", type=str, default=",".join(map(str, DEFAULT_LAMBDAS)))
    ap.add_argument("--base-index", type=int, default=2, help="which λ the base model trains at")
    ap.add_argument("--base-steps", type=int, default=8000)
    ap.add_argument("--finetune-steps", type=int, default=1500)
    ap.add_argument("--crop", type=int, default=128, help="crop size, a multiple of 64")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=int, default=100, help="linear warm-up steps (base model)")
    ap.add_argument("--finetune-lr", type=float, default=3e-4)
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--threads", type=int, default=1, help="1 is fastest on a busy 2-core machine")
    ap.add_argument("--log-every", type=int, default=50)
    args = ap.parse_args(argv)
    if args.crop % 64:
        ap.error("--crop must be a multiple of 64 (the hyperprior's total stride)")

    import compressai
    from compressai.models import MeanScaleHyperprior

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    lambdas = [float(v) for v in args.lambdas.split(",")]
    photos = load_photos()
    crops = Crops(photos, args.crop, args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.time()

    base = MeanScaleHyperprior(args.N, args.M)
    b = args.base_index
    print(f"{len(photos)} training images (photos × scales); base λ={lambdas[b]:g}", flush=True)
    stats: dict[int, dict[str, float]] = {}
    stats[b] = train_one(base, lambdas[b], args.base_steps, crops, args.batch, args.lr,
                         args.log_every, "base", warmup=args.warmup)
    states: dict[int, dict[str, torch.Tensor]] = {b: export_state(base)}
    base_state = {k: v.clone() for k, v in base.state_dict().items()}
    # warm-started chains: base → lower λ, base → higher λ
    for order in (range(b - 1, -1, -1), range(b + 1, len(lambdas))):
        net = MeanScaleHyperprior(args.N, args.M)
        net.load_state_dict(base_state)
        for i in order:
            stats[i] = train_one(net, lambdas[i], args.finetune_steps, crops, args.batch,
                                 args.finetune_lr, args.log_every, f"rate point {i + 1}")
            states[i] = export_state(net)
    wall = time.time() - started

    files = []
    for i in range(len(lambdas)):
        path = args.out / f"{STEM}-{i + 1}.pt"
        buf = io.BytesIO()
        torch.save(states[i], buf)
        path.write_bytes(buf.getvalue())
        files.append({
            "rate_point": i + 1,
            "file": path.name,
            "lambda": lambdas[i],
            "sha256": sha256(path),
            "bytes": path.stat().st_size,
            "steps": args.base_steps if i == b else args.finetune_steps,
            "warm_start": None if i == b else f"rate point {i + 2 if i < b else i}",
            **{k: round(v, 4) for k, v in stats[i].items()},
        })
    config = {
        "name": STEM,
        "architecture": ARCH,
        "class": "compressai.models.MeanScaleHyperprior",
        "N": args.N,
        "M": args.M,
        "weights_dtype": "float16 (restored to float32 on load; CDF tables rebuilt by "
        "update(force=True))",
        "loss": "lambda * 255^2 * MSE + bpp (noisy likelihoods, STE-rounded latents to g_s) "
        "+ aux loss",
        "lambdas": lambdas,
        "base_rate_point": b + 1,
        "base_steps": args.base_steps,
        "finetune_steps": args.finetune_steps,
        "crop": args.crop,
        "batch": args.batch,
        "lr": args.lr,
        "finetune_lr": args.finetune_lr,
        "warmup": args.warmup,
        "lr_schedule": "base: linear warm-up, then cosine to 5% per stage; Adam, grad-norm "
        "clip 1.0; aux Adam lr 1e-3",
        "augment": "random crop, horizontal flip, image scales "
        + ", ".join(f"{s:.4f}" for s in SCALES),
        "seed": args.seed,
        "threads": args.threads,
        "training_photos": [f"{d}:{r}" for d, r in TRAIN_PHOTOS],
        "versions": {
            "compressai": compressai.__version__,
            "torch": torch.__version__,
            "numpy": np.__version__,
            "python": sys.version.split()[0],
            "platform": platform.platform(),
        },
        "wall_seconds": round(wall, 1),
        "command": "python scripts/train_learned_codec.py "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "files": files,
    }
    (args.out / f"{STEM}.json").write_text(json.dumps(config, indent=2) + "\n")
    print(f"done in {wall / 60:.1f} min; wrote {len(files)} weight files to {args.out}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
