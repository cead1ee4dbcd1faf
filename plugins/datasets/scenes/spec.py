"""The fixed design of the scenes benchmark: generator version, sizes, classes, splits.

Why in one place: every number here decides rendered pixels or annotations, so changing
any of them must bump :data:`VERSION` and re-record :data:`VAL_SHA256`; the rest of the
plugin only reads them.
"""

from __future__ import annotations

from dataclasses import dataclass

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
