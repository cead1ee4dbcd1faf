"""Groups of images through the codec stage: batched first trials never change a result."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("compressai")

from lossybench.codec import Codec  # noqa: E402
from lossybench.dataset import Sample  # noqa: E402
from lossybench.engine.codec_batch import GPU_BATCH, batch_for, stage_group  # noqa: E402
from lossybench.engine.codec_stage import CodecStage, ImageWork, codec_stage  # noqa: E402
from lossybench.engine.ratecontrol import RateSearch  # noqa: E402
from lossybench.engine.workers import StreamStats, stream  # noqa: E402
from lossybench.plugins.codecs.jpeg import JpegCodec  # noqa: E402
from lossybench.plugins.codecs.learned import LearnedHyperprior  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class Counting(LearnedHyperprior):
    """The shipped learned codec, counting how it is asked to encode."""

    singles: ClassVar[list[float]] = []
    batched: ClassVar[list[tuple[float, int]]] = []

    def encode(self, image: np.ndarray, quality: float) -> bytes:
        Counting.singles.append(quality)
        return LearnedHyperprior.encode_batch(self, [image], quality)[0]

    def encode_batch(self, images, quality, batch_size: int = 8):  # type: ignore[override]
        Counting.batched.append((quality, len(images)))
        return super().encode_batch(images, quality, batch_size=batch_size)


def _crops(astronaut: np.ndarray, chelsea: np.ndarray) -> list[np.ndarray]:
    same = [np.ascontiguousarray(astronaut[y:y + 128, x:x + 160])
            for y, x in ((0, 0), (200, 120), (300, 300))]
    return [*same, np.ascontiguousarray(chelsea[:96, :130])]  # one of another size


def _samples(crops: list[np.ndarray]) -> list[Sample]:
    samples = [Sample(f"img{i}", functools.partial(np.array, c)) for i, c in enumerate(crops)]
    samples.insert(2, Sample("broken", b"not an image"))
    return samples


def _view(work: ImageWork) -> list[tuple]:
    return [(it.codec, it.point, it.quality, it.nbytes, it.bpp, it.psnr, it.status, it.error)
            for it in work.items] + [work.error, sorted(work.encodes.items())]


@pytest.mark.parametrize("mode, points", [("bpp", [0.1, 0.3, 1.0]), ("quality", [2, 9])])
def test_a_group_gives_what_one_image_at_a_time_gives(
    astronaut: np.ndarray, chelsea: np.ndarray, mode: str, points: list[float]
) -> None:
    samples = _samples(_crops(astronaut, chelsea))
    stage = CodecStage([Counting(), JpegCodec()], mode, points, batch=4)
    Counting.singles, Counting.batched = [], []
    alone = [codec_stage(s, stage) for s in samples]
    singles_alone = len(Counting.singles)
    Counting.singles, Counting.batched = [], []
    grouped = stage_group(samples, stage)
    assert [_view(w) for w in grouped] == [_view(w) for w in alone]
    # the readable crops shared their first trials: fewer encodes one by one
    assert Counting.batched and all(n == 4 for _, n in Counting.batched)
    shared = sum(n for _, n in Counting.batched)
    assert len(Counting.singles) == singles_alone - shared
    assert grouped[2].sample_id == "broken" and "not an image" in (grouped[2].error or "")


@pytest.mark.parametrize("codec", [LearnedHyperprior(), JpegCodec()], ids=lambda c: c.name)
def test_the_first_setting_is_the_first_encode(codec: Codec, astronaut: np.ndarray) -> None:
    image = np.ascontiguousarray(astronaut[:160, :200])
    for target in (0.1, 0.25, 0.5, 1.0, 2.0):
        asked: list[float] = []
        real = codec.encode

        def spy(im: np.ndarray, q: float, real=real, asked=asked) -> bytes:
            asked.append(q)
            return real(im, q)

        codec.encode = spy  # type: ignore[method-assign]
        try:
            search = RateSearch(codec, image)
            first = search.first_setting(target)
            search.solve([target])
        finally:
            del codec.encode
        assert asked[0] == first, (codec.name, target)


def test_stream_in_groups_keeps_order_and_counts(astronaut, chelsea) -> None:
    samples = _samples(_crops(astronaut, chelsea)) * 2  # 10 samples: groups of 4, 4, 2
    stage = CodecStage([Counting()], "bpp", [0.2], batch=4)
    assert stage.batching
    stats = StreamStats()
    got = list(stream(samples, stage, 0, stats))
    assert [s.id for s, _ in got] == [s.id for s in samples]
    assert [_view(w) for _, w in got] == [_view(codec_stage(s, stage)) for s in samples]
    assert stats.images == len(samples)


def test_a_cached_image_is_not_encoded_ahead(astronaut, chelsea, tmp_path: Path) -> None:
    samples = _samples(_crops(astronaut, chelsea))
    stage = CodecStage([Counting()], "bpp", [0.3], cache_root=str(tmp_path), batch=4)
    first = stage_group(samples, stage)
    Counting.singles, Counting.batched = [], []
    again = stage_group(samples, stage)
    assert Counting.batched == [] and Counting.singles == []  # all from the cache
    assert [_view(w)[:-1] for w in again] == [_view(w)[:-1] for w in first]


def test_groups_only_where_a_codec_batches_on_a_gpu() -> None:
    assert batch_for([JpegCodec(), LearnedHyperprior()]) == 1
    assert batch_for([JpegCodec(), LearnedHyperprior(device="cuda")]) == GPU_BATCH
    assert batch_for([JpegCodec()]) == 1
    assert not CodecStage([JpegCodec()], "bpp", [0.3], batch=8).batching


def test_groups_run_in_worker_processes(tmp_path: Path, astronaut, chelsea) -> None:
    from PIL import Image

    paths = []
    for i, crop in enumerate(_crops(astronaut, chelsea)):
        paths.append(tmp_path / f"{i}.png")
        Image.fromarray(crop).save(paths[-1])
    samples = [Sample(p.name, str(p)) for p in paths]
    stage = CodecStage([LearnedHyperprior(), JpegCodec()], "bpp", [0.2, 0.5], batch=3)
    pooled = [(s.id, _view(w)) for s, w in stream(samples, stage, 1)]
    assert pooled == [(s.id, _view(codec_stage(s, stage))) for s in samples]
