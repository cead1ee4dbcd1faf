"""CPU ↔ CUDA check of the learned codec's bitstreams (run where a GPU is lent).

Encodes the first 10 labelled ImageNet photos (imagenet-samples) at 4 levels on the CPU
and on CUDA, then decodes every bitstream on both devices, and prints how many bitstreams
are identical, whether each decodes everywhere, and the largest pixel difference between
CPU and CUDA decodes (the bound docs/neural-codecs.md states: at most one grey level).
It also encodes the photos as one CUDA batch per level (``encode_batch``, the path
``bench run --device cuda`` takes for first trials) and counts bitstreams equal to the
CPU's one-by-one encodes.

    python scripts/gpu_neural_determinism.py [--images 10] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import warnings

import numpy as np

warnings.filterwarnings("ignore")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--images", type=int, default=10)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    import torch

    from lossybench.plugins.codecs.learned import LearnedHyperprior
    from lossybench.registry import load_registry

    if not torch.cuda.is_available():
        raise SystemExit("no CUDA device here")
    dataset = load_registry().get("datasets", "imagenet-samples").obj()
    images = [s.image() for s in list(dataset.samples())[: args.images]]
    cpu, gpu = LearnedHyperprior(device="cpu"), LearnedHyperprior(device="cuda")
    levels = (1, 7, 14, 20)
    same = total = 0
    worst = 0
    for image in images:
        for level in levels:
            a, b = cpu.encode(image, level), gpu.encode(image, level)
            total += 1
            same += a == b
            for bits in {a, b}:
                pc, pg = cpu.decode(bits), gpu.decode(bits)
                worst = max(worst, int(np.abs(pc.astype(int) - pg.astype(int)).max()))
    batched_same = 0
    for level in levels:
        together = gpu.encode_batch(images, level)
        pairs = zip(images, together, strict=True)
        batched_same += sum(cpu.encode(im, level) == b for im, b in pairs)
    report = {"pairs": total, "identical_bitstreams": same, "max_pixel_difference": worst,
              "identical_batched_cuda_vs_cpu": batched_same,
              "gpu": torch.cuda.get_device_name(0), "torch": torch.__version__}
    print(json.dumps(report))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f)


if __name__ == "__main__":
    main()
