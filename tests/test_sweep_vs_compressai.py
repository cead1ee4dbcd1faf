"""The sweep agrees with CompressAI's own bench (the independent oracle) on real photos."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from lossybench.dataset import Sample
from lossybench.engine.sweep import run_sweep
from lossybench.image import find_images
from lossybench.plugins.datasets.package_photos import photo_path

QUALITIES = [5, 10, 50, 90]


@pytest.fixture(scope="module")
def photo_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("photos")
    for stem in ("astronaut", "chelsea", "china"):
        src = photo_path(stem)
        shutil.copy(src, d / src.name)
    return d


@pytest.mark.parametrize("codec", ["jpeg", "webp"])
def test_sweep_matches_compressai_bench(codec, photo_dir, registry):
    cmd = [
        sys.executable,
        "-m",
        "compressai.utils.bench",
        codec,
        str(photo_dir),
        "-q",
        ",".join(map(str, QUALITIES)),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=True)
    theirs = json.loads(proc.stdout)["results"]

    samples = [Sample(p.name, str(p)) for p in find_images([photo_dir])]
    ours = run_sweep([registry.codec(codec)()], samples, quality=QUALITIES).summaries()
    assert [s.point for s in ours] == QUALITIES
    for i, s in enumerate(ours):
        assert s.images == 3
        assert s.bpp == pytest.approx(theirs["bpp"][i], abs=1e-9)
        assert s.psnr == pytest.approx(theirs["psnr-rgb"][i], abs=0.01)
        assert s.ms_ssim == pytest.approx(theirs["ms-ssim-rgb"][i], abs=1e-4)
