"""Procedural scenes: a license-free detection / segmentation / classification benchmark.

No detection or segmentation data can be downloaded on offline machines, so this plugin
*generates* it: real-photo backgrounds (random crops of the photos that ship inside
scikit-image, scikit-learn and matplotlib) with shapes and photo-textured objects of
6 classes composed over them, at sizes from 12 to 160 px and with occlusion. The same
scenes are written in the formats real users have:

* ``images/NNNNNN.png`` (lossless, so a codec sees exactly the generated pixels);
* ``annotations.json`` — COCO instances (categories 1..6, bbox and area of the
  *visible* pixels, RLE segmentation), so ``coco:DIR`` reads it too;
* ``masks/NNNNNN.png`` — 8-bit L label masks (0 = background, 1..6 = classes) and
  ``classes.json``, so ``masks:DIR`` reads it too;
* ``labels.csv`` — the classification label of each image: the class of its largest
  visible object (0-based, i.e. category id − 1).

Three dataset names share the generator: ``scenes-detection``, ``scenes-segmentation``
and ``scenes-classification``. Location (optional): ``val`` (default: the fixed
200-image validation split), ``train`` (4000 images), or a directory to generate the
validation split into; ``SPLIT,images=N`` or ``DIR,split=train,images=N`` pick others.
Splits are generated once into ``platformdirs.user_cache_dir("lossybench")/scenes/v1``.

Determinism: every image is drawn from its own ``numpy.random.Generator(PCG64)`` seeded
by (split seed, index), and rendered with integer arithmetic and IEEE basic float
operations only (+ − × ÷ √, comparisons; no sin/cos/exp, whose last bit differs
between math libraries): rotations come from Pythagorean triples, edges are
anti-aliased by 4×4 supersampling with integer coverage counts. Validation backgrounds
are PNG photos (decoded bit-exactly everywhere); training backgrounds are other photos,
so the two splits share no background. The dataset hash (:meth:`Scenes.fingerprint`)
covers decoded pixels and annotations rather than PNG bytes (which depend on zlib), and
the validation split's hash is recorded in :data:`VAL_SHA256`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from lossybench import hookimpl
from lossybench.dataset import Dataset, Sample
from lossybench.errors import DatasetError
from lossybench.kits.cores import available_cores

#: Generator version: bump when any rendered pixel or annotation could change.
VERSION = "scenes-v1"
#: Image size (height, width).
SIZE = (320, 320)
#: Object classes; COCO category id = index + 1, mask value = index + 1.
CLASSES: tuple[str, ...] = ("disc", "square", "triangle", "ring", "cross", "textured")
#: Object extent range in pixels (diameter / side), drawn log-uniformly.
MIN_SIZE, MAX_SIZE = 12.0, 160.0
#: Objects per image (inclusive range) and placement attempts per object.
OBJECTS = (4, 10)
ATTEMPTS = 25
#: An object is kept only if at least this fraction of it stays visible (occlusion,
#: image border) and it shows at least MIN_AREA pixels.
MIN_VISIBLE = 0.5
MIN_AREA = 48
#: Supersampling factor per axis for anti-aliased edges.
SS = 4

#: Photos used as backgrounds: (distribution, path). Validation uses PNG files only,
#: which every zlib decodes to the same pixels; the two lists share no photo.
VAL_PHOTOS: tuple[tuple[str, str], ...] = (
    ("scikit-image", "skimage/data/astronaut.png"),
    ("scikit-image", "skimage/data/coffee.png"),
    ("scikit-image", "skimage/data/chelsea.png"),
    ("scikit-image", "skimage/data/camera.png"),
)
TRAIN_PHOTOS: tuple[tuple[str, str], ...] = (
    ("scikit-image", "skimage/data/motorcycle_left.png"),
    ("scikit-image", "skimage/data/motorcycle_right.png"),
    ("scikit-image", "skimage/data/ihc.png"),
    ("scikit-image", "skimage/data/coins.png"),
    ("scikit-image", "skimage/data/moon.png"),
    ("scikit-image", "skimage/data/rocket.jpg"),
    ("scikit-image", "skimage/data/hubble_deep_field.jpg"),
    ("scikit-learn", "sklearn/datasets/images/china.jpg"),
    ("scikit-learn", "sklearn/datasets/images/flower.jpg"),
    ("matplotlib", "matplotlib/mpl-data/sample_data/grace_hopper.jpg"),
)
#: Grey-level photo textures that fill "textured" objects; validation reads the bottom
#: half of each, training the top half.
TEXTURES: tuple[tuple[str, str], ...] = (
    ("scikit-image", "skimage/data/brick.png"),
    ("scikit-image", "skimage/data/grass.png"),
    ("scikit-image", "skimage/data/gravel.png"),
)


@dataclass(frozen=True)
class Split:
    name: str
    seed: int
    images: int
    photos: tuple[tuple[str, str], ...]
    texture_half: int  # 0: top half of each texture, 1: bottom half


SPLITS: dict[str, Split] = {
    "val": Split("val", seed=202401, images=200, photos=VAL_PHOTOS, texture_half=1),
    "train": Split("train", seed=770319, images=4000, photos=TRAIN_PHOTOS, texture_half=0),
    # the validation split's photos and textures, other scenes: for choices a finetune
    # must make on images like the scored ones without looking at them (--select-dataset)
    "dev": Split("dev", seed=515087, images=200, photos=VAL_PHOTOS, texture_half=1),
}

#: sha256 of the validation split (decoded pixels + annotations, see ``fingerprint``).
VAL_SHA256 = "b597a497d7284b43e89c6b486f289f80669b8a719c994401278a3b6efef1b192"

#: Pythagorean triples: exact rational (cos, sin) pairs, so rotations need no libm.
_TRIPLES = (
    (3, 4, 5), (5, 12, 13), (8, 15, 17), (7, 24, 25), (20, 21, 29), (12, 35, 37),
    (9, 40, 41), (28, 45, 53), (11, 60, 61), (33, 56, 65), (16, 63, 65), (48, 55, 73),
    (13, 84, 85), (36, 77, 85), (39, 80, 89), (65, 72, 97),
)  # fmt: skip
ROTATIONS: tuple[tuple[float, float], ...] = tuple(
    [(1.0, 0.0), (0.0, 1.0), (-1.0, 0.0), (0.0, -1.0)]
    + [
        (sx * p / c, sy * q / c)
        for a, b, c in _TRIPLES
        for p, q in ((a, b), (b, a))
        for sx in (1, -1)
        for sy in (1, -1)
    ]
)
_SQRT3_2 = math.sqrt(3.0) / 2.0  # sqrt is correctly rounded by IEEE 754


# -- sources -------------------------------------------------------------------------------
def locate(dist_name: str, rel: str) -> Path:
    """A file inside an installed distribution (found without importing the package)."""
    try:
        path = Path(str(distribution(dist_name).locate_file(rel)))
    except PackageNotFoundError:
        raise DatasetError(f"scenes: {dist_name} is not installed (needed for {rel})") from None
    if not path.is_file():
        raise DatasetError(f"scenes: {rel} is missing from the installed {dist_name}")
    return path


@cache
def _photo(dist_name: str, rel: str) -> np.ndarray:
    from PIL import Image

    with Image.open(locate(dist_name, rel)) as img:
        return np.ascontiguousarray(np.asarray(img.convert("RGB"), dtype=np.uint8))


@cache
def _texture(dist_name: str, rel: str, half: int) -> np.ndarray:
    from PIL import Image

    with Image.open(locate(dist_name, rel)) as img:
        arr = np.asarray(img.convert("L"), dtype=np.int32)
    h = arr.shape[0] // 2
    return np.ascontiguousarray(arr[half * h : (half + 1) * h])


# -- rendering -----------------------------------------------------------------------------
@dataclass
class Scene:
    """One rendered scene: pixels, label map, and the visible objects."""

    image: np.ndarray  # (H, W, 3) uint8
    mask: np.ndarray  # (H, W) uint8, 0 = background, k = CLASSES[k - 1]
    objects: list[dict[str, Any]] = field(default_factory=list)  # category_id, bbox, area, mask

    @property
    def label(self) -> int:
        """Classification label: 0-based class of the largest visible object."""
        best = max(self.objects, key=lambda o: o["area"])
        return int(best["category_id"]) - 1


def _resample(src: np.ndarray, y0: float, x0: float, step: float, h: int, w: int) -> np.ndarray:
    """Bilinear resampling of ``src`` on a regular grid (basic float ops only)."""
    ys = y0 + (np.arange(h, dtype=np.float64) + 0.5) * step - 0.5
    xs = x0 + (np.arange(w, dtype=np.float64) + 0.5) * step - 0.5
    ys = np.clip(ys, 0.0, src.shape[0] - 1.0)
    xs = np.clip(xs, 0.0, src.shape[1] - 1.0)
    yi = np.minimum(ys.astype(np.int64), src.shape[0] - 2)
    xi = np.minimum(xs.astype(np.int64), src.shape[1] - 2)
    fy = (ys - yi)[:, None, None]
    fx = (xs - xi)[None, :, None]
    s = src.astype(np.float64)
    top = s[yi][:, xi] * (1.0 - fx) + s[yi][:, xi + 1] * fx
    bottom = s[yi + 1][:, xi] * (1.0 - fx) + s[yi + 1][:, xi + 1] * fx
    out = top * (1.0 - fy) + bottom * fy
    return np.floor(out + 0.5).clip(0, 255).astype(np.uint8)


def _background(rng: np.random.Generator, split: Split) -> np.ndarray:
    """A random crop of a random photo, rescaled by 0.6–1.6×, possibly mirrored."""
    h, w = SIZE
    photo = _photo(*split.photos[int(rng.integers(len(split.photos)))])
    ph, pw = photo.shape[:2]
    step = 0.6 + 1.0 * float(rng.random())  # source pixels per output pixel
    step = min(step, (ph - 1) / h, (pw - 1) / w)
    y0 = float(rng.random()) * (ph - step * h)
    x0 = float(rng.random()) * (pw - step * w)
    bg = _resample(photo, y0, x0, step, h, w)
    if rng.random() < 0.5:
        bg = bg[:, ::-1]
    return np.ascontiguousarray(bg)


def _colour(rng: np.random.Generator) -> np.ndarray:
    """A saturated colour from hue/saturation/value (HSV → RGB with basic ops)."""
    hue = 6.0 * float(rng.random())
    sat = 0.55 + 0.45 * float(rng.random())
    val = 0.45 + 0.55 * float(rng.random())
    i = int(hue)
    f = hue - i
    p, q, t = val * (1 - sat), val * (1 - sat * f), val * (1 - sat * (1 - f))
    rgb = [(val, t, p), (q, val, p), (p, val, t), (p, q, val), (t, p, val), (val, p, q)][i % 6]
    return np.array([math.floor(255 * c + 0.5) for c in rgb], dtype=np.int32)


def _inside(kind: str, u: np.ndarray, v: np.ndarray, geo: dict[str, float]) -> np.ndarray:
    """Membership of rotated local coordinates (u, v) in one outline."""
    if kind == "disc":
        return u * u / (geo["a"] * geo["a"]) + v * v / (geo["b"] * geo["b"]) <= 1.0
    if kind == "square":
        return (np.abs(u) <= geo["a"]) & (np.abs(v) <= geo["b"])
    if kind == "triangle":  # equilateral, circumradius r: three half-planes at inradius r/2
        half = geo["r"] / 2.0
        return (v <= half) & (-_SQRT3_2 * u - 0.5 * v <= half) & (_SQRT3_2 * u - 0.5 * v <= half)
    if kind == "ring":
        d = u * u + v * v
        return (d <= geo["r"] * geo["r"]) & (d >= geo["ri"] * geo["ri"])
    if kind == "cross":
        a, w = geo["a"], geo["w"]
        au, av = np.abs(u), np.abs(v)
        return ((au <= a) & (av <= w)) | ((au <= w) & (av <= a))
    raise AssertionError(kind)


def _geometry(kind: str, size: float, rng: np.random.Generator) -> tuple[dict[str, float], float]:
    """Shape parameters for an object of extent ``size``, and its circumradius."""
    r = size / 2.0
    if kind == "disc":
        b = r * (0.75 + 0.25 * float(rng.random()))
        return {"a": r, "b": b}, r
    if kind == "square":
        a = r / 1.2
        b = a * (0.6 + 0.4 * float(rng.random()))
        return {"a": a, "b": b}, math.sqrt(a * a + b * b)
    if kind == "triangle":
        return {"r": r}, r
    if kind == "ring":
        stroke = max(2.5, r * (0.18 + 0.12 * float(rng.random())))
        return {"r": r, "ri": r - stroke}, r
    if kind == "cross":
        a = r / 1.1
        w = max(2.0, a * (0.22 + 0.1 * float(rng.random())))
        return {"a": a, "w": w}, math.sqrt(a * a + w * w)
    raise AssertionError(kind)


@dataclass
class _Object:
    category: int  # 1-based
    y0: int
    x0: int
    count: np.ndarray  # (h, w) coverage counts 0..SS*SS in the window at (y0, x0)
    fill: np.ndarray  # (h, w, 3) int32 colour


def _draw_object(rng: np.random.Generator, split: Split) -> _Object | None:
    """Draw one object's outline, position and fill; None if mostly outside the image."""
    height, width = SIZE
    category = int(rng.integers(len(CLASSES))) + 1
    kind = CLASSES[category - 1]
    outline = kind
    if kind == "textured":
        outline = ("disc", "square", "triangle")[int(rng.integers(3))]
    size = MIN_SIZE * (MAX_SIZE / MIN_SIZE) ** float(rng.random())
    size = math.floor(size * 4.0 + 0.5) / 4.0  # quantised: pow() may differ in the last bit
    geo, radius = _geometry(outline, size, rng)
    cos, sin = ROTATIONS[int(rng.integers(len(ROTATIONS)))]
    cy = -radius / 2 + float(rng.random()) * (height + radius)
    cx = -radius / 2 + float(rng.random()) * (width + radius)
    y0, x0 = math.floor(cy - radius) - 1, math.floor(cx - radius) - 1
    y1, x1 = math.ceil(cy + radius) + 2, math.ceil(cx + radius) + 2
    offs = (np.arange(SS, dtype=np.float64) + 0.5) / SS
    ys = (np.arange(y0, y1, dtype=np.float64)[:, None] + offs[None, :]).reshape(-1) - cy
    xs = (np.arange(x0, x1, dtype=np.float64)[:, None] + offs[None, :]).reshape(-1) - cx
    dy, dx = ys[:, None], xs[None, :]
    u = cos * dx + sin * dy
    v = cos * dy - sin * dx
    hit = _inside(outline, u, v, geo)
    count = hit.reshape(y1 - y0, SS, x1 - x0, SS).sum(axis=(1, 3)).astype(np.int32)
    total = int(count.sum())
    # clip the window to the image
    cy0, cx0 = max(y0, 0), max(x0, 0)
    cy1, cx1 = min(y1, height), min(x1, width)
    if cy1 <= cy0 or cx1 <= cx0:
        return None
    count = count[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0]
    if total == 0 or int(count.sum()) < 0.6 * total:
        return None
    h, w = count.shape
    colour = _colour(rng)
    if kind == "textured":
        tex = _texture(*TEXTURES[int(rng.integers(len(TEXTURES)))], split.texture_half)
        ty = int(rng.integers(tex.shape[0] - h + 1)) if tex.shape[0] > h else 0
        tx = int(rng.integers(tex.shape[1] - w + 1)) if tex.shape[1] > w else 0
        patch = tex[ty : ty + h, tx : tx + w]
        patch = np.pad(patch, ((0, h - patch.shape[0]), (0, w - patch.shape[1])), mode="reflect")
        # stretch the patch's contrast, then tint it: light/dark texture in the object colour
        lo, hi = int(patch.min()), int(patch.max())
        norm = (patch - lo) * 255 // max(hi - lo, 1)
        fill = colour[None, None, :] * (48 + norm[..., None] * 207 // 255) // 255
    else:
        # a gentle linear shading, as lit objects have, rather than a flat colour
        gy, gx = float(rng.random()) - 0.5, float(rng.random()) - 0.5
        amp = 60.0 / max(size, 1.0)
        yy = (np.arange(cy0, cy1, dtype=np.float64) - cy)[:, None]
        xx = (np.arange(cx0, cx1, dtype=np.float64) - cx)[None, :]
        shade = np.floor((yy * gy + xx * gx) * amp + 0.5).astype(np.int32)
        fill = colour[None, None, :] + shade[..., None]
    return _Object(category, cy0, cx0, count, np.clip(fill, 0, 255).astype(np.int32))


def render(split: str | Split, index: int, omit: int | None = None) -> Scene:
    """Render image ``index`` of ``split`` (a pure function of its arguments).

    ``omit=k`` places every object exactly as usual but leaves object ``k`` unpainted
    (its pixels show what lies behind it; annotations unchanged): the counterfactual
    scene for asking what an object adds to the image, e.g. after compression.
    """
    sp = SPLITS[split] if isinstance(split, str) else split
    rng = np.random.Generator(np.random.PCG64([sp.seed, index]))
    height, width = SIZE
    image = _background(rng, sp).astype(np.int32)
    owner = np.full((height, width), -1, dtype=np.int32)
    placed: list[_Object] = []
    full: list[int] = []  # each object's own pixel count when placed
    n = int(rng.integers(OBJECTS[0], OBJECTS[1] + 1))
    for _ in range(n):
        for _attempt in range(ATTEMPTS):
            obj = _draw_object(rng, sp)
            if obj is None:
                continue
            h, w = obj.count.shape
            win = (slice(obj.y0, obj.y0 + h), slice(obj.x0, obj.x0 + w))
            solid = obj.count * 2 >= SS * SS
            own = int(solid.sum())
            if own < MIN_AREA:
                continue
            trial = owner.copy()
            trial[win][solid] = len(placed)
            areas = np.bincount(trial[trial >= 0], minlength=len(placed) + 1)
            if any(areas[i] < max(MIN_VISIBLE * full[i], MIN_AREA) for i in range(len(placed))):
                continue
            owner = trial
            placed.append(obj)
            full.append(own)
            if len(placed) - 1 == omit:
                break
            c = obj.count[..., None]
            image[win] = (image[win] * (SS * SS - c) + obj.fill * c + SS * SS // 2) // (SS * SS)
            break
    mask = np.zeros((height, width), dtype=np.uint8)
    objects = []
    for i, obj in enumerate(placed):
        vis = owner == i
        mask[vis] = obj.category
        rows = np.flatnonzero(vis.any(axis=1))
        cols = np.flatnonzero(vis.any(axis=0))
        x0, y0 = int(cols[0]), int(rows[0])
        bbox = [x0, y0, int(cols[-1]) + 1 - x0, int(rows[-1]) + 1 - y0]
        objects.append(
            {"category_id": obj.category, "bbox": bbox, "area": int(vis.sum()), "mask": vis}
        )
    return Scene(image.astype(np.uint8), mask, objects)


# -- writing a split -----------------------------------------------------------------------
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


def cache_root() -> Path:
    """Where splits are generated on first use (``LOSSYBENCH_SCENES_DIR`` overrides)."""
    env = os.environ.get("LOSSYBENCH_SCENES_DIR")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("lossybench")) / "scenes" / "v1"


def parse_location(location: str | None) -> tuple[Path, str, int | None]:
    """``[val|train|DIR][,split=NAME][,images=N]`` → (folder, split, image count)."""
    head, *opts = (location or "val").split(",")
    head = head.strip() or "val"
    split, images = "val", None
    for opt in opts:
        key, eq, value = (s.strip() for s in opt.partition("="))
        if not eq or key not in ("split", "images"):
            raise DatasetError(
                f"scenes: unknown option {opt!r}; use [val|train|DIR][,split=NAME][,images=N]"
            )
        if key == "split":
            split = value
        else:
            try:
                images = int(value)
            except ValueError:
                raise DatasetError(f"scenes: images={value!r} is not an integer") from None
            if images < 1:
                raise DatasetError("scenes: images must be at least 1")
    if head in SPLITS:
        split = head
        folder = cache_root() / split if images in (None, SPLITS[split].images) else (
            cache_root() / f"{split}-{images}"
        )
    else:
        folder = Path(head).expanduser()
    if split not in SPLITS:
        raise DatasetError(f"scenes: unknown split {split!r}; have {', '.join(SPLITS)}")
    return folder, split, images


# -- dataset plugins -----------------------------------------------------------------------
class Scenes(Dataset):
    """Shared base of the three scenes datasets; they differ only in the target."""

    requires_location = False

    def __init__(self, location: str | None = None, **options: Any) -> None:
        super().__init__(location, **options)
        folder, split, images = parse_location(location)
        self.root = folder
        self.split = split
        if not _complete(folder):
            if folder.exists() and any(folder.iterdir()):
                raise DatasetError(
                    f"scenes: {folder} exists and holds no scenes split (no manifest.json); "
                    "give an empty or new directory"
                )
            if folder.exists():
                folder.rmdir()
            write_split(folder, split, images)
        self.manifest = json.loads((folder / "manifest.json").read_text())
        if self.manifest.get("generator") != VERSION:
            raise DatasetError(
                f"scenes: {folder} was generated by {self.manifest.get('generator')}, this is "
                f"{VERSION}; delete the folder to regenerate it"
            )
        self.split = str(self.manifest.get("split", split))
        self._coco: dict[str, Any] | None = None

    def ground_truth(self) -> dict[str, Any]:
        """The COCO instances dict of the split (what the detection task scores against)."""
        if self._coco is None:
            self._coco = json.loads((self.root / "annotations.json").read_text())
        return self._coco

    def _labels(self) -> dict[str, int]:
        with open(self.root / "labels.csv", newline="") as f:
            rows = list(csv.reader(f))[1:]
        return {Path(name).stem: int(label) for name, label in rows}

    def _target(self, stem: str, image: dict[str, Any]) -> Any:
        raise NotImplementedError

    def samples(self) -> Iterator[Sample]:
        for image in self.ground_truth()["images"]:
            stem = Path(image["file_name"]).stem
            yield Sample(
                id=stem,
                source=str(self.root / "images" / image["file_name"]),
                target=self._target(stem, image),
                meta={"split": self.split, "generator": VERSION},
            )

    def __len__(self) -> int:
        return len(self.ground_truth()["images"])

    def fingerprint(self, samples: Iterable[Sample] | None = None) -> str:
        """sha256 over decoded pixels, label masks, annotations and labels (not PNG bytes).

        PNG bytes depend on the zlib build; decoded arrays do not, so the same generator
        gives the same hash on every machine. ``samples`` (e.g. a ``--limit`` subset)
        restricts the hash to those images.
        """
        from PIL import Image

        chosen = {s.id for s in (self.samples() if samples is None else samples)}
        gt = self.ground_truth()
        labels = self._labels()
        anns: dict[int, list[dict[str, Any]]] = {}
        for a in gt["annotations"]:
            anns.setdefault(a["image_id"], []).append(a)
        h = hashlib.sha256(VERSION.encode())
        h.update(json.dumps(gt["categories"], sort_keys=True).encode())
        for image in sorted(gt["images"], key=lambda im: im["file_name"]):
            stem = Path(image["file_name"]).stem
            if stem not in chosen:
                continue
            record = {"image": image, "annotations": anns.get(image["id"], []),
                      "label": labels[stem]}
            h.update(json.dumps(record, sort_keys=True, separators=(",", ":")).encode())
            for sub in ("images", "masks"):
                with Image.open(self.root / sub / image["file_name"]) as img:
                    h.update(np.ascontiguousarray(np.asarray(img)).tobytes())
        return h.hexdigest()


class ScenesDetection(Scenes):
    name = "scenes-detection"
    description = f"procedural scenes ({VERSION}) with COCO boxes; location val|train|DIR"
    task = "detection"

    def _target(self, stem: str, image: dict[str, Any]) -> Any:
        return {"image_id": image["id"], "width": image["width"], "height": image["height"]}

    def categories(self) -> list[dict[str, Any]]:
        return categories()


class ScenesSegmentation(Scenes):
    name = "scenes-segmentation"
    description = f"procedural scenes ({VERSION}) with PNG label masks; location val|train|DIR"
    task = "segmentation"

    def _target(self, stem: str, image: dict[str, Any]) -> Any:
        return {
            "mask": str(self.root / "masks" / image["file_name"]),
            "ignore_index": 255,
            "reduce_zero_label": False,
        }

    def samples(self) -> Iterator[Sample]:
        for s in super().samples():
            s.meta["target_files"] = [s.target["mask"]]
            yield s

    def categories(self) -> list[dict[str, Any]]:
        return categories(background=True)


class ScenesClassification(Scenes):
    name = "scenes-classification"
    description = (
        f"procedural scenes ({VERSION}); label = class of the largest visible object"
    )
    task = "classification"
    _cached: ClassVar[dict[str, dict[str, int]]] = {}

    def _target(self, stem: str, image: dict[str, Any]) -> Any:
        key = str(self.root)
        if key not in self._cached:
            self._cached[key] = self._labels()
        return self._cached[key][stem]

    def categories(self) -> list[dict[str, Any]]:
        return [{"id": i, "name": n} for i, n in enumerate(CLASSES)]


@hookimpl
def lossybench_datasets() -> list[type[Dataset]]:
    return [ScenesDetection, ScenesSegmentation, ScenesClassification]
