"""Encodes per (image, target) of rate control, per codec, on the built-in photos.

For each codec: the exact search (tolerance 0) and the default relative rate tolerance,
with the mean and largest |bpp / target - 1| of the answers that reached their target,
so the cost of the tolerance in rate accuracy is visible next to the encodes it saves.

Usage: .venv/bin/python benchmarks/ratecontrol_encodes.py [--bpp 0.1,0.2,0.3,0.5,1,2]
       [--codecs jpeg,webp,jpeg2000] [--tolerance 0.1]
"""

from __future__ import annotations

import argparse
import math
import time

from lossybench.engine.ratecontrol import DEFAULT_RATE_TOLERANCE, RateSearch
from lossybench.kits.neural_codec import NeuralCodec
from lossybench.plugins.datasets.package_photos import PackagePhotos
from lossybench.registry import load_registry


def bisection_encodes(levels: int) -> float:
    return math.ceil(math.log2(levels)) + 1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bpp", default="0.1,0.2,0.3,0.5,1,2")
    ap.add_argument("--codecs", default="", help="comma-separated; default: available classic")
    ap.add_argument("--tolerance", type=float, default=DEFAULT_RATE_TOLERANCE)
    args = ap.parse_args()
    targets = [float(x) for x in args.bpp.split(",")]
    tols = [0.0, args.tolerance]
    reg = load_registry()
    names = args.codecs.split(",") if args.codecs else reg.names("codecs")
    images = [s.image() for s in PackagePhotos().samples()]
    print(f"{len(images)} photos, targets {targets}")
    head = "".join(
        f" {'enc/target':>10s} {'mean err':>8s} {'max err':>8s}" for _ in tols
    )
    print(f"{'':10s}" + "".join(f" {f'--- tolerance {t:g} ---':>28s}" for t in tols))
    print(f"{'codec':10s}{head} {'flagged':>8s} {'seconds':>8s}")
    totals = {t: [0, 0, 0.0, 0] for t in tols}  # encodes, points, sum err, ok points
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
        row, flagged, t0 = "", 0, time.perf_counter()
        for tol in tols:
            encodes, errs = 0, []
            for img in images:
                search = RateSearch(codec, img, tolerance=tol)
                points = search.solve(targets)
                encodes += search.encodes
                errs += [abs(p.bpp / p.target - 1) for p in points if p.status == "ok"]
                flagged += sum(p.status != "ok" for p in points) if tol == 0 else 0
            n = len(images) * len(targets)
            tot = totals[tol]
            tot[0] += encodes
            tot[1] += n
            tot[2] += sum(errs)
            tot[3] += len(errs)
            mean = sum(errs) / len(errs) if errs else math.nan
            row += f" {encodes / n:10.2f} {mean:8.3f} {max(errs, default=math.nan):8.3f}"
        print(f"{name:10s}{row} {flagged:8d} {time.perf_counter() - t0:8.1f}")
    row = "".join(
        f" {e / max(n, 1):10.2f} {s / max(k, 1):8.3f} {'':8s}" for e, n, s, k in totals.values()
    )
    print(f"{'overall':10s}{row}")
    print(f"plain bisection over 95 levels: ~{bisection_encodes(95):.0f} encodes per target")


if __name__ == "__main__":
    main()
