"""Encodes per (image, target) of rate control, per codec, on the built-in photos.

Usage: .venv/bin/python benchmarks/ratecontrol_encodes.py [--bpp 0.1,0.2,0.3,0.5,1,2]
"""

from __future__ import annotations

import argparse
import math
import time

from lossybench.plugins.datasets.package_photos import PackagePhotos
from lossybench.ratecontrol import RateSearch
from lossybench.registry import load_registry


def bisection_encodes(levels: int) -> float:
    return math.ceil(math.log2(levels)) + 1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bpp", default="0.1,0.2,0.3,0.5,1,2")
    args = ap.parse_args()
    targets = [float(x) for x in args.bpp.split(",")]
    reg = load_registry()
    images = [s.image() for s in PackagePhotos().samples()]
    print(f"{len(images)} photos, targets {targets}")
    print(f"{'codec':10s} {'encodes/target':>15s} {'flagged':>8s} {'seconds':>8s}")
    for name in reg.names("codecs"):
        codec = reg.codec(name)()
        total = flagged = 0
        t0 = time.perf_counter()
        for img in images:
            search = RateSearch(codec, img)
            flagged += sum(p.status != "ok" for p in search.solve(targets))
            total += search.encodes
        per = total / (len(images) * len(targets))
        print(f"{name:10s} {per:15.2f} {flagged:8d} {time.perf_counter() - t0:8.1f}")
    print(f"plain bisection over 95 levels: ~{bisection_encodes(95):.0f} encodes per target")


if __name__ == "__main__":
    main()
