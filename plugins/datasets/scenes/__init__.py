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

Determinism (see :mod:`.render`): every image is a pure function of (split, index),
bit-exact across machines; validation and training splits share no background photo.
The validation split's hash is recorded in :data:`VAL_SHA256`.

This package is the plugin module (the ``scenes`` entry point): it holds the hook and
re-exports the names callers use. A test that patches a module attribute must patch it
where it is looked up (e.g. ``writing.PARALLEL_FROM``), not here.
"""

from __future__ import annotations

from lossybench import hookimpl
from lossybench.dataset import Dataset
from lossybench.plugins.datasets.scenes.dataset import (
    Scenes,
    ScenesClassification,
    ScenesDetection,
    ScenesSegmentation,
)
from lossybench.plugins.datasets.scenes.locations import cache_root, parse_location
from lossybench.plugins.datasets.scenes.photos import locate
from lossybench.plugins.datasets.scenes.render import ROTATIONS, Scene, render
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
    TRAIN_PHOTOS,
    VAL_PHOTOS,
    VAL_SHA256,
    VERSION,
    Split,
)
from lossybench.plugins.datasets.scenes.writing import categories, write_split

__all__ = [
    "ATTEMPTS",
    "CLASSES",
    "MAX_SIZE",
    "MIN_AREA",
    "MIN_SIZE",
    "MIN_VISIBLE",
    "OBJECTS",
    "ROTATIONS",
    "SIZE",
    "SPLITS",
    "SS",
    "TEXTURES",
    "TRAIN_PHOTOS",
    "VAL_PHOTOS",
    "VAL_SHA256",
    "VERSION",
    "Scene",
    "Scenes",
    "ScenesClassification",
    "ScenesDetection",
    "ScenesSegmentation",
    "Split",
    "cache_root",
    "categories",
    "locate",
    "lossybench_datasets",
    "parse_location",
    "render",
    "write_split",
]


@hookimpl
def lossybench_datasets() -> list[type[Dataset]]:
    return [ScenesDetection, ScenesSegmentation, ScenesClassification]
