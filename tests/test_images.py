"""Bad and unusual input images: a clear per-image error or a documented conversion."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from lossybench import image as image_mod
from lossybench.dataset import Sample
from lossybench.engine.sweep import run_sweep
from lossybench.errors import ImageError
from lossybench.image import load_image


def save(img: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def test_grayscale_is_expanded_to_rgb():
    arr = np.arange(64, dtype=np.uint8).reshape(8, 8)
    out = load_image(save(Image.fromarray(arr, "L")))
    assert out.shape == (8, 8, 3) and out.dtype == np.uint8
    assert (out[..., 0] == arr).all() and (out[..., 2] == arr).all()


def test_rgba_alpha_is_dropped_like_compressai():
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 200, 0
    out = load_image(save(Image.fromarray(rgba, "RGBA")))
    assert out.shape == (4, 4, 3) and (out[..., 0] == 200).all()


def test_palette_and_cmyk_are_converted():
    pal = Image.new("P", (5, 3))
    pal.putpalette([10, 20, 30] * 256)
    assert (load_image(save(pal))[0, 0] == [10, 20, 30]).all()
    cmyk = Image.new("CMYK", (5, 3), (0, 255, 255, 0))  # pure red in CMYK
    out = load_image(save(cmyk, "JPEG", quality=100))
    assert out.shape == (3, 5, 3) and out[0, 0, 0] > 200 and out[0, 0, 1] < 60


def test_sixteen_bit_is_scaled_not_clipped():
    arr = np.full((6, 7), 0xABCD, dtype=np.uint16)
    out = load_image(save(Image.fromarray(arr)))
    assert out.shape == (6, 7, 3) and (out == 0xAB).all()


def test_one_pixel_image_loads():
    assert load_image(save(Image.new("RGB", (1, 1), (1, 2, 3)))).shape == (1, 1, 3)


@pytest.mark.parametrize(
    "payload, message",
    [
        (b"this is not an image", "not an image"),
        (b"", "not an image"),
    ],
)
def test_garbage_gives_clear_error(payload, message):
    with pytest.raises(ImageError, match=message):
        load_image(payload)


def test_truncated_image_gives_clear_error(astronaut):
    data = save(Image.fromarray(astronaut), "JPEG")
    with pytest.raises(ImageError, match=r"truncated|unreadable"):
        load_image(data[: len(data) // 3])


def test_missing_file(tmp_path):
    with pytest.raises(ImageError, match="no such file"):
        load_image(tmp_path / "nope.png")


def test_decompression_bomb_is_refused(monkeypatch):
    monkeypatch.setattr(image_mod, "MAX_PIXELS", 100)
    with pytest.raises(ImageError, match="decompression bomb"):
        load_image(save(Image.new("RGB", (20, 20))))


def test_one_bad_image_does_not_stop_a_sweep(tmp_path, registry, astronaut):
    good = tmp_path / "good.png"
    Image.fromarray(astronaut[:200, :200]).save(good)
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff garbage")
    samples = [Sample("bad", str(bad)), Sample("good", str(good))]
    result = run_sweep([registry.codec("jpeg")()], samples, quality=[50])
    assert result.images == 1
    assert [r.image for r in result.records] == ["good"]
    assert len(result.errors) == 1 and result.errors[0].image == "bad"
    assert "bad.jpg" in result.errors[0].error
