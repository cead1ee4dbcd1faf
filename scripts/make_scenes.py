"""Write a scenes split (images, COCO JSON, PNG masks, labels) into a folder.

    .venv/bin/python scripts/make_scenes.py OUT_DIR [--split val|train] [--images N]

The folder then works with ``--dataset scenes-detection:OUT_DIR`` (and the other two
scenes names), and also with the generic ``coco:OUT_DIR`` and ``masks:OUT_DIR`` formats.
Prints the split's fingerprint (the hash ``bench run`` records).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from lossybench.plugins.datasets import scenes


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", type=Path)
    p.add_argument("--split", choices=sorted(scenes.SPLITS), default="val")
    p.add_argument("--images", type=int, help="default: the split's size")
    args = p.parse_args(argv)
    if args.out.exists() and any(args.out.iterdir()):
        p.error(f"{args.out} is not empty")
    start = time.perf_counter()
    if args.out.exists():
        args.out.rmdir()
    scenes.write_split(args.out, args.split, args.images)
    ds = scenes.ScenesDetection(str(args.out))
    print(f"{len(ds)} {args.split} scenes ({scenes.VERSION}) in {args.out} "
          f"({time.perf_counter() - start:.0f} s); sha256 {ds.fingerprint()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
