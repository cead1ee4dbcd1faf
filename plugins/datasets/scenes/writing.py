"""Writing a rendered split to disk in the formats real datasets use.

Why: the scenes are scored by the same readers as user data (COCO instances, PNG label
masks, a labels CSV), so a split is written once as files, atomically (a half-written
split never shows, and concurrent writers race safely), and large splits render on
every core.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from lossybench.kits.cores import available_cores
from lossybench.plugins.datasets.scenes.render import render
from lossybench.plugins.datasets.scenes.spec import CLASSES, SIZE, SPLITS, VERSION


def _png(array: np.ndarray, mode: str) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array, mode=mode).save(buf, format="PNG", compress_level=6)
    return buf.getvalue()


def _rle(mask: np.ndarray) -> dict[str, Any]:
    from pycocotools import mask as mask_utils

    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(s) for s in rle["size"]], "counts": rle["counts"].decode("ascii")}


def categories(background: bool = False) -> list[dict[str, Any]]:
    cats = [{"id": i + 1, "name": n, "supercategory": "shape"} for i, n in enumerate(CLASSES)]
    if background:
        cats.insert(0, {"id": 0, "name": "background", "supercategory": "background"})
    return cats


def write_split(root: Path, split: str = "val", images: int | None = None) -> Path:
    """Render ``split`` into ``root`` (created atomically: a half-written split never shows).

    Concurrent writers (parallel test workers, run workers) each render into their own
    temporary folder; the first rename wins and the others discard theirs.
    """
    sp = SPLITS[split]
    n = sp.images if images is None else images
    root = Path(root)
    if _complete(root):
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}-", dir=root.parent))
    try:
        (tmp / "images").mkdir()
        (tmp / "masks").mkdir()
        coco: dict[str, Any] = {
            "info": {"description": f"lossybench {VERSION} {split} split", "version": VERSION},
            "images": [],
            "annotations": [],
            "categories": categories(),
        }
        labels = []
        for i, (objects, label) in enumerate(_render_all(split, n, tmp)):
            stem = f"{i:06d}"
            coco["images"].append(
                {"id": i + 1, "file_name": f"{stem}.png", "width": SIZE[1], "height": SIZE[0]}
            )
            for obj in objects:
                coco["annotations"].append(
                    {"id": len(coco["annotations"]) + 1, "image_id": i + 1, **obj}
                )
            labels.append((f"{stem}.png", label))
        (tmp / "annotations.json").write_text(json.dumps(coco, separators=(",", ":")))
        with open(tmp / "labels.csv", "w", newline="") as f:
            csv.writer(f).writerows([("filename", "label"), *labels])
        (tmp / "classes.json").write_text(
            json.dumps({"classes": ["background", *CLASSES], "ignore_index": 255}, indent=1)
        )
        manifest = {"generator": VERSION, "split": split, "seed": sp.seed, "images": n,
                    "size": list(SIZE), "classes": list(CLASSES)}
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1))
        try:
            os.rename(tmp, root)
        except OSError:
            if not _complete(root):
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return root


#: Splits at least this large render in worker processes (a 4000-image split takes
#: ~5 min on one core; images are independent, so the work divides by the cores).
PARALLEL_FROM = 400


def _render_files(split: str, index: int, folder: str) -> tuple[list[dict[str, Any]], int]:
    """Render scene ``index`` and write its image and mask into ``folder``.

    Returns its COCO annotations (no ids yet) and its classification label: what the
    parent needs, so the pixels never travel between processes.
    """
    scene = render(split, index)
    stem = f"{index:06d}"
    Path(folder, "images", f"{stem}.png").write_bytes(_png(scene.image, "RGB"))
    Path(folder, "masks", f"{stem}.png").write_bytes(_png(scene.mask, "L"))
    objects = [
        {"category_id": obj["category_id"], "bbox": obj["bbox"], "area": obj["area"],
         "iscrowd": 0, "segmentation": _rle(obj["mask"])}
        for obj in scene.objects
    ]
    return objects, scene.label


def _render_all(split: str, n: int, folder: Path) -> Iterator[tuple[list[dict[str, Any]], int]]:
    """:func:`_render_files` for images 0..n-1, in order; on every core for large splits.

    Each image is a pure function of (split, index), so the files are identical whatever
    the number of processes.
    """
    cores = available_cores()
    if n < PARALLEL_FROM or cores < 2:
        for i in range(n):
            yield _render_files(split, i, str(folder))
        return
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    # spawn: the parent may hold torch's thread pools, which a fork would copy broken
    with ProcessPoolExecutor(cores, mp_context=mp.get_context("spawn")) as pool:
        yield from pool.map(_render_files, [split] * n, range(n), [str(folder)] * n,
                            chunksize=25)


def _complete(root: Path) -> bool:
    return (root / "manifest.json").is_file()
