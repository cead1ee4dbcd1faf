"""Rendering one scene: a photo background with occluding, anti-aliased objects over it.

Why so careful with arithmetic: the dataset hash must be the same on every machine.
Every image is drawn from its own ``numpy.random.Generator(PCG64)`` seeded by (split
seed, index), and rendered with integer arithmetic and IEEE basic float operations only
(+ − × ÷ √, comparisons; no sin/cos/exp, whose last bit differs between math
libraries): rotations come from Pythagorean triples, edges are anti-aliased by 4×4
supersampling with integer coverage counts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lossybench.plugins.datasets.scenes.photos import _photo, _texture
from lossybench.plugins.datasets.scenes.spec import (
    ATTEMPTS,
    CLASSES,
    MAX_SIZE,
    MIN_AREA,
    MIN_SIZE,
    MIN_VISIBLE,
    OBJECTS,
    SIZE,
    SPLITS,
    SS,
    TEXTURES,
    Split,
)

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
