"""Bad and unusual input images: a clear per-image error or a documented conversion."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

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
    with pytest.raises(ImageError, match=r"20x20 = 400 pixels exceeds the limit of 100 pixels "
                       r"\(possible decompression bomb\)"):
        load_image(save(Image.new("RGB", (20, 20))))


def claimed_size_png(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` (CRC fixed): nothing to decode."""
    data = bytearray(save(Image.new("RGB", (2, 2))))
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


@pytest.mark.parametrize("side", [14_000, 20_000])  # over the limit, and over twice it
def test_the_bomb_message_states_the_limit_enforced(side):
    """docs/images.md documents 178,956,970 pixels; Pillow would quote 357,913,940 above 2x."""
    assert image_mod.MAX_PIXELS == 178_956_970
    with pytest.raises(ImageError) as err:
        load_image(claimed_size_png(side, side))
    assert f"{side}x{side} = {side * side:,} pixels exceeds the limit of 178,956,970 pixels" in (
        str(err.value)
    )
    assert "357" not in str(err.value)
    doc = (Path(__file__).parents[1] / "docs" / "images.md").read_text()
    assert "178,956,970" in doc


def test_file_over_the_byte_limit_is_refused_before_reading(monkeypatch, tmp_path):
    path = tmp_path / "big.png"
    path.write_bytes(save(Image.new("RGB", (20, 20))))
    monkeypatch.setattr(image_mod, "MAX_IMAGE_BYTES", 10)
    with pytest.raises(ImageError, match=r"big.png: \d+ bytes, over the limit of 10 bytes"):
        load_image(path)
    monkeypatch.undo()
    assert image_mod.MAX_IMAGE_BYTES == 8 * image_mod.MAX_PIXELS == 1_431_655_760


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
