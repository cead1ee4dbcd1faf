"""Fit a codec's rate prior: the geometric-mean bpp of each setting over a photo set.

Rate control (core/engine/ratecontrol.py) starts each image's search from the codec's
``rate_prior`` and follows its shape; this script makes that table reproducibly.

Photos: by default the 9 colour photos of the ``package-photos`` dataset
(plugins/datasets/package_photos.py: scikit-image's astronaut, chelsea, coffee,
rocket, motorcycle_left and hubble_deep_field, scikit-learn's china and flower,
matplotlib's grace_hopper), each at its full size. ``--photos`` picks a subset by stem,
``--images`` uses image files instead.

For each knot (setting) every photo is encoded once with the codec's default options
and the geometric mean of the real bpp is printed, rounded to 4 decimals, as a Python
``RATE_PRIOR`` tuple (for a plugin file) and as a ``[rate_prior]`` TOML table (for an
external codec's definition). The table must grow strictly in the knob's "better"
direction; the script fails if the measured means do not.

Usage:
    .venv/bin/python scripts/fit_rate_priors.py avif
    .venv/bin/python scripts/fit_rate_priors.py cjpeg --format toml
    .venv/bin/python scripts/fit_rate_priors.py jpeg --compare   # vs the shipped table
    .venv/bin/python scripts/fit_rate_priors.py heic --knots 0,10,20,50,100
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
import time
from pathlib import Path

#: Default knots per codec (the shipped tables use these); others get ``default_knots``.
KNOTS: dict[str, tuple[float, ...]] = {
    "jpeg": (1, 3, 5, 8, 12, 18, 25, 35, 50, 65, 75, 85, 90, 95),
    "cjpeg": (1, 3, 5, 8, 12, 18, 25, 35, 50, 65, 75, 85, 90, 95, 100),
    "webp": (0, 3, 6, 10, 15, 25, 35, 50, 65, 75, 85, 90, 95, 100),
    "avif": (0, 5, 10, 15, 20, 30, 40, 50, 60, 70, 80, 85, 90, 95, 100),
    "heic": (0, 5, 10, 15, 20, 30, 40, 50, 60, 70, 80, 85, 90, 95),  # 100 = 95
    "jpegxl": (0.1, 0.1737, 0.3017, 0.5241, 0.9103, 1.5811, 2.7464, 4.7704, 8.2861,
               14.3928, 25.0),
}


def default_knots(q: object) -> list[float]:
    """Every level of a knob with at most 32 levels; else ~12 evenly (log-)spaced points."""
    levels = q.levels  # type: ignore[attr-defined]
    if levels is not None and len(levels) <= 32:
        return list(levels)
    lo, hi = q.minimum, q.maximum  # type: ignore[attr-defined]
    n = 12
    if q.log_scale:  # type: ignore[attr-defined]
        pts = [math.exp(math.log(lo) + i * (math.log(hi) - math.log(lo)) / (n - 1))
               for i in range(n)]
    else:
        pts = [lo + i * (hi - lo) / (n - 1) for i in range(n)]
    if levels is not None:
        step = q.step  # type: ignore[attr-defined]
        pts = sorted({lo + round((p - lo) / step) * step for p in pts})
    return [round(p, 4) for p in pts]


def load_images(args: argparse.Namespace) -> list[tuple[str, object]]:
    from lossybench.image import load_image

    if args.images:
        return [(Path(p).stem, load_image(p)) for p in args.images]
    from lossybench.plugins.datasets.package_photos import PackagePhotos

    wanted = set(args.photos.split(",")) if args.photos else None
    out = [(s.id, s.image()) for s in PackagePhotos().samples()
           if wanted is None or s.id in wanted]
    if wanted is not None and len(out) != len(wanted):
        have = {s.id for s in PackagePhotos().samples()}
        sys.exit(f"unknown or missing photos: {sorted(wanted - have)}")
    return out


def fit(codec: object, images: list[tuple[str, object]], knots: list[float],
        verbose: bool = False) -> list[tuple[float, float]]:
    """(knot, geometric-mean bpp) for each knot, in ascending knot order."""
    from lossybench.codec import bits_per_pixel

    table = []
    for q in sorted(knots):
        q = codec.quality.validate(q)  # type: ignore[attr-defined]
        logs = []
        for _, img in images:
            h, w = img.shape[:2]  # type: ignore[attr-defined]
            logs.append(math.log(bits_per_pixel(codec.encode(img, q), w, h)))  # type: ignore[attr-defined]
        gm = math.exp(sum(logs) / len(logs))
        if verbose:
            print(f"  {q:g}: {gm:.4f} bpp", file=sys.stderr)
        table.append((float(q), gm))
    return table


def check_monotone(table: list[tuple[float, float]], higher_is_better: bool) -> list[str]:
    problems = []
    for (q0, b0), (q1, b1) in itertools.pairwise(table):
        grows = b1 > b0 if higher_is_better else b1 < b0
        if not grows:
            problems.append(f"bpp does not move the right way between {q0:g} ({b0:.4f}) "
                            f"and {q1:g} ({b1:.4f})")
    return problems


def fmt_q(q: float) -> str:
    return f"{q:g}" if not float(q).is_integer() else f"{q:.1f}"


def as_python(table: list[tuple[float, float]]) -> str:
    items = [f"({fmt_q(q)}, {round(b, 4)})" for q, b in table]
    lines, line = [], "   "
    for it in items:
        if len(line) + len(it) + 2 > 92:
            lines.append(line)
            line = "   "
        line += f" {it},"
    lines.append(line)
    return "RATE_PRIOR = (\n" + "\n".join(lines) + "\n)"


def as_toml(table: list[tuple[float, float]]) -> str:
    def key(q: float) -> str:
        return str(int(q)) if float(q).is_integer() else f'"{q:g}"'

    return "[rate_prior]\n" + "\n".join(f"{key(q)} = {round(b, 4)}" for q, b in table)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("codec", help="registry name, e.g. avif, heic, cjpeg, lossybench-hyperprior")
    ap.add_argument("--knots", default="", help="comma-separated settings (default per codec)")
    ap.add_argument("--photos", default="", help="comma-separated package-photo stems")
    ap.add_argument("--images", nargs="*", default=[], help="image files instead of the photos")
    ap.add_argument("--format", choices=("python", "toml", "both"), default="both")
    ap.add_argument("--compare", action="store_true",
                    help="print the largest ratio to the codec's shipped rate_prior")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()

    from lossybench.registry import load_registry

    cls = load_registry().codec(args.codec)
    cls.check_available()
    codec = cls()
    q = codec.quality
    if args.knots:
        knots = [float(k) for k in args.knots.split(",")]
    else:
        knots = list(KNOTS.get(args.codec, ())) or default_knots(q)
    images = load_images(args)
    t0 = time.perf_counter()
    table = fit(codec, images, knots, args.verbose)
    names = ", ".join(n for n, _ in images)
    print(f"# {args.codec}: geometric-mean bpp over {len(images)} photos ({names}); "
          f"{len(knots) * len(images)} encodes in {time.perf_counter() - t0:.0f} s; "
          f"default options; {codec.backend().library} {codec.backend().version}")
    problems = check_monotone(table, q.higher_is_better)
    if args.format in ("python", "both"):
        print(as_python(table))
    if args.format in ("toml", "both"):
        print(as_toml(table))
    if args.compare:
        old = [codec.rate_prior(k) for k, _ in table]
        if any(b is None for b in old):
            print("# no shipped rate_prior to compare with")
        else:
            worst = max(abs(math.log(b / o)) for (_, b), o in zip(table, old, strict=True))
            print(f"# largest |log(new / shipped)|: {worst:.3f} ({math.exp(worst) - 1:.1%})")
    if problems:
        sys.exit("not monotone: " + "; ".join(problems))


if __name__ == "__main__":
    main()
