"""ImageNet-1k class metadata, shared by dataset plugins (which may not import each other)."""

from __future__ import annotations

from typing import Any

from lossybench.errors import DatasetError


def imagenet_categories() -> list[dict[str, Any]]:
    """The 1000 ImageNet-1k classes in index order: id, name (lemmas) and wnid.

    They come from timm's bundled synset list, so no download is needed.
    """
    try:
        from timm.data import ImageNetInfo
    except ImportError:
        raise DatasetError("ImageNet class names come from timm: pip install timm") from None
    info = ImageNetInfo()
    return [
        {"id": i, "name": info.index_to_description(i), "wnid": wnid}
        for i, wnid in enumerate(info.label_names())
    ]
