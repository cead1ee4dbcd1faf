"""Learned codecs give the same bits everywhere: threads, processes (and devices).

The entropy coder's inputs — quantised latents, the indexes and means that pick each
symbol's CDF — must be identical wherever a bitstream is encoded or decoded, or it
decodes to garbage elsewhere (CompressAI's cross-platform problem). lossybench builds
the CDF tables on the CPU and runs the transforms in float64
(lossybench.kits.neural_codec.prepare_network). A CUDA machine, when one is lent, runs
the same check across devices (docs/neural-codecs.md).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytest.importorskip("compressai")

#: encode + decode a few real photos at low, middle and high levels, print the hashes
SCRIPT = """
import hashlib, json, sys, warnings
warnings.filterwarnings("ignore")
import torch
torch.set_num_threads(int(sys.argv[1]))
from lossybench.plugins.codecs.learned import LearnedHyperprior
from lossybench.plugins.datasets.package_photos import photo_path
from lossybench.image import load_image
codec = LearnedHyperprior()
out = {}
for name in ("chelsea", "coffee", "astronaut"):
    image = load_image(photo_path(name))[:256, :320]
    for level in (1, 9, 20):
        bits = codec.encode(image, level)
        pixels = codec.decode(bits)
        out[f"{name}@{level}"] = [hashlib.sha256(bits).hexdigest(),
                                  hashlib.sha256(pixels.tobytes()).hexdigest()]
print(json.dumps(out))
"""


def _hashes(threads: int) -> dict[str, list[str]]:
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(threads)], capture_output=True,
                          text=True, timeout=600, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def one_thread() -> dict[str, list[str]]:
    return _hashes(1)


def test_same_bytes_and_pixels_with_one_and_two_threads(one_thread) -> None:
    """Before float64 coding, decoded pixels differed on 36 of 36 (image, level) pairs of
    the package photos between 1 and 2 threads (the bytes happened to agree there)."""
    two = _hashes(2)
    assert two.keys() == one_thread.keys()
    assert {k: v[0] for k, v in two.items()} == {k: v[0] for k, v in one_thread.items()}
    assert {k: v[1] for k, v in two.items()} == {k: v[1] for k, v in one_thread.items()}


def test_same_bytes_in_another_process(one_thread) -> None:
    again = _hashes(1)
    assert again == one_thread


def test_coding_path_is_part_of_the_identity() -> None:
    """Cached bitstreams of another coding path (float32) are never reused: the backend
    string, which is in the cache key and the result, names the path."""
    from lossybench.kits.neural_codec import CODING_PATH
    from lossybench.plugins.codecs.learned import LearnedHyperprior

    assert CODING_PATH in LearnedHyperprior().identity()["backend"]["binding"]
