"""On-disk cache of rate-control tables and chosen bitstreams.

Keyed by the image's *content* (sha256 of its pixels) and the codec's identity (name,
settings, backend library and version), so it is shared by runs, tasks and models: a
second model on the same images and codecs encodes nothing, and a codec upgrade never
reuses stale bits. Every write is atomic (temp file + ``os.replace``), so a crash
leaves either the old file or the new one, never half of one.

Layout: ``ROOT/v1/<codec key>/<image key[:2]>/<image key>.json`` holds the rate table
(setting → bytes) of every trial ever made; ``<image key>-<setting>.bin`` holds the
bitstreams rate control chose.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lossybench.codec import Codec

LAYOUT = "v1"


def default_root() -> Path:
    env = os.environ.get("LOSSYBENCH_CACHE")
    if env:
        return Path(env)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("lossybench")) / "bitstreams"


def image_key(image: np.ndarray) -> str:
    h = hashlib.sha256(f"{image.shape}|{image.dtype}".encode())
    h.update(np.ascontiguousarray(image).tobytes())
    return h.hexdigest()


def codec_key(codec: Codec) -> str:
    return hashlib.sha256(json.dumps(codec.identity(), sort_keys=True).encode()).hexdigest()


def _setting(quality: float) -> str:
    return repr(float(quality))


def atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass
class CacheEntry:
    """The cache as seen by one rate search: one image, one codec configuration."""

    cache: CodecCache
    image: str
    codec: str

    @property
    def _dir(self) -> Path:
        return self.cache.root / LAYOUT / self.codec[:32] / self.image[:2]

    def table(self) -> dict[float, int]:
        path = self._dir / f"{self.image}.json"
        try:
            raw = json.loads(path.read_text())
            return {float(k): int(v) for k, v in raw.items()}
        except (OSError, ValueError, AttributeError):
            return {}  # missing or unreadable: the search simply encodes

    def save_table(self, table: dict[float, int]) -> None:
        merged = {**self.table(), **table}
        data = json.dumps({_setting(q): n for q, n in sorted(merged.items())}).encode()
        atomic_write(self._dir / f"{self.image}.json", data)

    def bitstream(self, quality: float, nbytes: int | None = None) -> bytes | None:
        try:
            data = (self._dir / f"{self.image}-{_setting(quality)}.bin").read_bytes()
        except OSError:
            return None
        return data if nbytes is None or len(data) == nbytes else None

    def put_bitstream(self, quality: float, data: bytes) -> None:
        atomic_write(self._dir / f"{self.image}-{_setting(quality)}.bin", data)


class CodecCache:
    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_root()

    def entry(self, image: np.ndarray | str, codec: Codec) -> CacheEntry:
        key = image if isinstance(image, str) else image_key(image)
        return CacheEntry(self, key, codec_key(codec))

    def _files(self) -> list[Path]:
        base = self.root / LAYOUT
        return [p for p in base.rglob("*") if p.is_file()] if base.exists() else []

    def info(self) -> dict[str, Any]:
        files = self._files()
        return {
            "root": str(self.root),
            "tables": sum(1 for p in files if p.suffix == ".json"),
            "bitstreams": sum(1 for p in files if p.suffix == ".bin"),
            "bytes": sum(p.stat().st_size for p in files),
            "codec_configurations": len(
                {p.relative_to(self.root / LAYOUT).parts[0] for p in files}
            ),
        }

    def prune(
        self,
        max_bytes: int | None = None,
        older_than_days: float | None = None,
        everything: bool = False,
    ) -> dict[str, int]:
        """Delete everything, files not used for N days, and/or the least recently used
        files until the cache fits in ``max_bytes``."""
        files = self._files()
        removed = freed = 0
        now = time.time()

        def drop(p: Path) -> None:
            nonlocal removed, freed
            size = p.stat().st_size
            p.unlink(missing_ok=True)
            removed += 1
            freed += size

        keep = []
        for p in files:
            if (
                everything
                or (
                    older_than_days is not None
                    and now - p.stat().st_atime > older_than_days * 86400
                )
                or p.name.startswith(".tmp-")
            ):
                drop(p)
            else:
                keep.append(p)
        if max_bytes is not None:
            keep.sort(key=lambda p: p.stat().st_atime)
            total = sum(p.stat().st_size for p in keep)
            for p in keep:
                if total <= max_bytes:
                    break
                total -= p.stat().st_size
                drop(p)
        return {"removed_files": removed, "freed_bytes": freed}
