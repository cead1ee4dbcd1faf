"""Encodes per (image, target) of rate control, per codec, on two sets of photos.

For each codec and each photo set: the exact search (tolerance 0) and a relative rate
tolerance (``--tolerance``, default 0.1), with the mean and largest |bpp / target - 1| of
the answers that reached their target, so the cost of a tolerance in rate accuracy is
visible next to the encodes it saves.

Photo sets:

- ``package``: the 9 package photos (``package-photos``), the ones the codecs' rate
  priors were fitted on (``scripts/fit_rate_priors.py``);
- ``other``: the first ``--other N`` (default 10) of the 20 ImageNet photos in the
  foolbox wheel (``imagenet-samples``, 512 x 512), which the priors never saw.

``--determinism`` also solves every target *alone* and counts the (image, target)
pairs whose chosen setting differs from the one chosen inside the whole ``--bpp`` list
(it should be 0: a setting is a function of its own target only).

Usage: .venv/bin/python benchmarks/ratecontrol_encodes.py [--bpp 0.1,0.2,0.3,0.5,1,2]
       [--codecs jpeg,webp,jpeg2000] [--tolerance 0.1] [--sets package,other]
       [--other 10] [--determinism]
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable

import numpy as np

from lossybench.engine.ratecontrol import RateSearch
from lossybench.kits.neural_codec import NeuralCodec
from lossybench.plugins.datasets.imagenet_samples import ImageNetSamples
from lossybench.plugins.datasets.package_photos import PackagePhotos
from lossybench.registry import load_registry


def bisection_encodes(levels: int) -> float:
    return math.ceil(math.log2(levels)) + 1


def photo_sets(names: list[str], other: int) -> dict[str, list[np.ndarray]]:
    loaders: dict[str, Callable[[], list[np.ndarray]]] = {
        "package": lambda: [s.image() for s in PackagePhotos().samples()],
        "other": lambda: [s.image() for s in list(ImageNetSamples().samples())[:other]],
    }
    return {n: loaders[n]() for n in names}


def measure(codec, images, targets, tol, determinism):  # type: ignore[no-untyped-def]
    """(encodes, points, errors, flagged, differing alone) over ``images``."""
    encodes, errs, flagged, differ = 0, [], 0, 0
    for img in images:
        search = RateSearch(codec, img, tolerance=tol)
        points = search.solve(targets)
        encodes += search.encodes
        errs += [abs(p.bpp / p.target - 1) for p in points if p.status == "ok"]
        flagged += sum(p.status != "ok" for p in points)
        if determinism:
            for p in points:
                alone = RateSearch(codec, img, tolerance=tol).solve([p.target])[0]
                differ += alone.quality != p.quality
    return encodes, len(images) * len(targets), errs, flagged, differ


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bpp", default="0.1,0.2,0.3,0.5,1,2")
    ap.add_argument("--codecs", default="", help="comma-separated; default: available classic")
    ap.add_argument("--tolerance", type=float, default=0.1)
    ap.add_argument("--sets", default="package,other")
    ap.add_argument("--other", type=int, default=10, help="how many ImageNet photos")
    ap.add_argument("--determinism", action="store_true", help="also solve each target alone")
    args = ap.parse_args()
    targets = [float(x) for x in args.bpp.split(",")]
    tols = [0.0, args.tolerance]
    reg = load_registry()
    names = args.codecs.split(",") if args.codecs else reg.names("codecs")
    sets = photo_sets(args.sets.split(","), args.other)
    print(
        f"targets {targets}; "
        + ", ".join(f"{k}: {len(v)} photos" for k, v in sets.items())
        + ("; alone-vs-list differences counted" if args.determinism else "")
    )
    head = "".join(
        f" {'enc/target':>10s} {'mean err':>8s} {'max err':>8s}"
        + (f" {'differ':>6s}" if args.determinism else "")
        for _ in tols
    )
    width = 35 if args.determinism else 28
    print(f"{'':19s}" + "".join(f" {f'--- tolerance {t:g} ---':>{width}s}" for t in tols))
    print(f"{'codec':10s} {'photos':8s}{head} {'flagged':>8s} {'seconds':>8s}")
    totals = {(s, t): [0, 0, 0.0, 0, 0] for s in sets for t in tols}
    for name in names:
        cls = reg.codec(name)
        if issubclass(cls, NeuralCodec) and not args.codecs:
            continue  # learned codecs: pass --codecs to include them
        try:
            cls.check_available()
        except Exception:
            print(f"{name:10s} unavailable")
            continue
        codec = cls()
        for set_name, images in sets.items():
            row, flagged, t0 = "", 0, time.perf_counter()
            for tol in tols:
                enc, n, errs, flag, differ = measure(codec, images, targets, tol, args.determinism)
                flagged = flag if tol == 0 else flagged
                tot = totals[set_name, tol]
                for i, v in enumerate((enc, n, sum(errs), len(errs), differ)):
                    tot[i] += v
                mean = sum(errs) / len(errs) if errs else math.nan
                row += f" {enc / n:10.2f} {mean:8.3f} {max(errs, default=math.nan):8.3f}"
                row += f" {differ:6d}" if args.determinism else ""
            secs = time.perf_counter() - t0
            print(f"{name:10s} {set_name:8s}{row} {flagged:8d} {secs:8.1f}", flush=True)
    for set_name in sets:
        row = ""
        for tol in tols:
            e, n, s, k, d = totals[set_name, tol]
            row += f" {e / max(n, 1):10.2f} {s / max(k, 1):8.3f} {'':8s}"
            row += f" {d:6d}" if args.determinism else ""
        print(f"{'overall':10s} {set_name:8s}{row}")
    print(f"plain bisection over 95 levels: ~{bisection_encodes(95):.0f} encodes per target")


if __name__ == "__main__":
    main()
