"""The bitstream cache: shared encodes, identity keys, atomic writes, pruning."""

from __future__ import annotations

import os

import pytest

from lossybench.engine.cache import CodecCache, codec_key
from lossybench.engine.ratecontrol import RateSearch

TARGETS = [0.2, 0.5, 1.0]


@pytest.fixture
def jpeg(registry):
    return registry.codec("jpeg")()


def test_second_search_encodes_nothing_and_answers_the_same(tmp_path, jpeg, chelsea):
    cache = CodecCache(tmp_path)
    first = RateSearch(jpeg, chelsea, cache=cache.entry(chelsea, jpeg))
    a = first.solve(TARGETS)
    assert first.encodes > len(TARGETS)
    second = RateSearch(jpeg, chelsea, cache=cache.entry(chelsea, jpeg))
    b = second.solve(TARGETS)
    assert second.encodes == 0
    assert [(p.quality, p.bpp, p.bitstream, p.status) for p in a] == [
        (p.quality, p.bpp, p.bitstream, p.status) for p in b
    ]


@pytest.mark.parametrize("tolerance", [0.0, 0.1])
def test_new_targets_reuse_the_rate_table(tmp_path, jpeg, chelsea, tolerance):
    cache = CodecCache(tmp_path)
    RateSearch(jpeg, chelsea, cache=cache.entry(chelsea, jpeg)).solve(TARGETS)
    more = [*TARGETS, 0.3, 1.5]
    fresh = RateSearch(jpeg, chelsea, tolerance=tolerance)
    a = fresh.solve(more)
    warm = RateSearch(jpeg, chelsea, tolerance=tolerance, cache=cache.entry(chelsea, jpeg))
    b = warm.solve(more)
    assert warm.encodes < fresh.encodes
    # the table is a memo of encodes, not knowledge: the answers are the cold ones
    assert [(p.quality, p.bitstream) for p in a] == [(p.quality, p.bitstream) for p in b]


def test_settings_and_backend_change_the_key(registry, jpeg):
    other = registry.codec("jpeg")(subsampling="4:4:4")
    assert codec_key(jpeg) != codec_key(other)
    assert codec_key(jpeg) == codec_key(registry.codec("jpeg")())


def test_corrupt_cache_files_are_ignored(tmp_path, jpeg, chelsea):
    cache = CodecCache(tmp_path)
    entry = cache.entry(chelsea, jpeg)
    RateSearch(jpeg, chelsea, cache=entry).solve(TARGETS)
    for p in tmp_path.rglob("*.json"):
        p.write_text("{not json")
    search = RateSearch(jpeg, chelsea, cache=entry)
    points = search.solve(TARGETS)
    assert search.encodes > 0 and all(p.bpp <= p.target for p in points)


def test_a_crash_mid_write_leaves_no_partial_file(tmp_path, jpeg, chelsea, monkeypatch):
    cache = CodecCache(tmp_path)

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        RateSearch(jpeg, chelsea, cache=cache.entry(chelsea, jpeg)).solve(TARGETS)
    monkeypatch.undo()
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_info_and_prune(tmp_path, jpeg, chelsea):
    cache = CodecCache(tmp_path)
    RateSearch(jpeg, chelsea, cache=cache.entry(chelsea, jpeg)).solve(TARGETS)
    info = cache.info()
    assert info["tables"] == 1 and info["bitstreams"] == len(TARGETS) and info["bytes"] > 0
    out = cache.prune(max_bytes=info["bytes"] // 2)
    assert out["removed_files"] >= 1 and cache.info()["bytes"] <= info["bytes"] // 2
    cache.prune(everything=True)
    assert cache.info()["bytes"] == 0
