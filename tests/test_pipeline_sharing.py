"""Targets that land on the same codec setting share one decode, one MS-SSIM, one forward."""

from __future__ import annotations

from typing import Any

import numpy as np

from lossybench.dataset import Sample
from lossybench.engine.codec_stage import CodecStage
from lossybench.engine.run.records import image_records
from lossybench.plugins.datasets.package_photos import photo_path


class CountingModel:
    """Predicts each image's mean pixel value and counts the images it was shown."""

    def __init__(self) -> None:
        self.seen = 0

    def predict(self, images: list[np.ndarray]) -> list[float]:
        self.seen += len(images)
        return [float(x.mean()) for x in images]


class EchoTask:
    def outcome(self, sample: Sample, prediction: Any) -> dict[str, Any]:
        return {"mean": prediction}


def test_points_on_one_setting_share_decode_and_forward(registry):
    sample = Sample("chelsea", str(photo_path("chelsea")))
    jpeg = registry.codec("jpeg")()
    # 0.01 and 0.02 bpp are both below JPEG's floor on this photo: one setting, one bitstream
    work = CodecStage([jpeg], "bpp", [0.01, 0.02, 1.0], "floor", with_ms_ssim=True)(sample)
    low, lower, high = work.items
    assert low.quality == lower.quality != high.quality
    assert low.decoded is lower.decoded and low.nbytes == lower.nbytes
    assert low.psnr == lower.psnr and low.ms_ssim == lower.ms_ssim
    assert high.ms_ssim > low.ms_ssim

    model = CountingModel()
    records = image_records(work, sample, EchoTask(), model, batch_size=8)  # type: ignore[arg-type]
    assert model.seen == 3  # the original, the shared floor point, 1 bpp
    by_point = {r["point"]: r["outcome"]["mean"] for r in records}
    assert by_point[0.01] == by_point[0.02] == float(low.decoded.mean())
    assert by_point[1.0] == float(high.decoded.mean())
    assert by_point[None] == float(work.image.mean())
