"""Batched first trials of a learned codec: time, encodes and identity against one by one.

Runs the codec stage over the 20 ImageNet photos of the foolbox wheel (512 x 512, never
used to fit a prior) with ``lossybench-hyperprior`` at the default targets, once one
image per call and once in groups (``--batch``), on ``--device`` (default cpu; ``bench
run`` groups only on a GPU). Prints wall seconds, encodes made one by one and together,
the ratio, and whether every setting, byte count and PSNR is identical.

Usage: .venv/bin/python benchmarks/codec_batch.py [--images 20] [--batch 8]
       [--device cpu] [--threads 1] [--repeat 2]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from lossybench.engine.codec_batch import stage_group
from lossybench.engine.codec_stage import CodecStage, codec_stage
from lossybench.engine.run.presets import DEFAULT_BPP
from lossybench.plugins.codecs.learned import LearnedHyperprior
from lossybench.plugins.datasets.imagenet_samples import ImageNetSamples


class Counted(LearnedHyperprior):
    """Counts single encodes and images encoded in batches."""

    singles = 0
    together = 0

    def encode(self, image, quality):  # type: ignore[no-untyped-def]
        Counted.singles += 1
        return LearnedHyperprior.encode_batch(self, [image], quality)[0]

    def encode_batch(self, images, quality, batch_size=8):  # type: ignore[no-untyped-def]
        Counted.together += len(images)
        return super().encode_batch(images, quality, batch_size=batch_size)


def view(works):  # type: ignore[no-untyped-def]
    return [[(i.point, i.quality, i.nbytes, i.psnr) for i in w.items] for w in works]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=20)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    samples = list(ImageNetSamples().samples())[: args.images]
    stage = CodecStage([Counted(device=args.device)], "bpp", list(DEFAULT_BPP),
                       batch=args.batch)
    stage_group(samples[:2], stage)  # load every network once, outside the timings
    times: dict[str, list[float]] = {"one by one": [], "grouped": []}
    counts: dict[str, tuple[int, int]] = {}
    results = {}
    for _ in range(args.repeat):
        for name in times:
            Counted.singles = Counted.together = 0
            start = time.perf_counter()
            if name == "one by one":
                works = [codec_stage(s, stage) for s in samples]
            else:
                works = []
                for i in range(0, len(samples), args.batch):
                    works += stage_group(samples[i : i + args.batch], stage)
            times[name].append(time.perf_counter() - start)
            counts[name] = (Counted.singles, Counted.together)
            results[name] = view(works)
    print(f"{len(samples)} images x {len(DEFAULT_BPP)} targets, device {args.device}, "
          f"{args.threads} thread(s), groups of {args.batch}, {args.repeat} repeats")
    for name, ts in times.items():
        single, together = counts[name]
        print(f"  {name:>10}: {statistics.fmean(ts):7.2f} s (min {min(ts):.2f})  "
              f"encodes one by one {single}, in batches {together}")
    ratio = statistics.fmean(times["one by one"]) / statistics.fmean(times["grouped"])
    print(f"  speed-up grouped vs one by one: {ratio:.2f}x")
    print(f"  identical settings, bytes and PSNR: {results['one by one'] == results['grouped']}")


if __name__ == "__main__":
    main()
