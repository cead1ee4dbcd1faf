"""Every built-in codec, loaded through the real registry (so its entry point is exercised).

Images are crops of real photos shipped with scikit-image, kept near 256x256 so that
the whole file runs in well under a minute on two cores.
"""

from __future__ import annotations

import io
import itertools
import math
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from lossybench.codec import Codec, bits_per_pixel
from lossybench.engine.ratecontrol import RateSearch
from lossybench.errors import CodecError
from lossybench.image import load_image
from lossybench.plugins.datasets.package_photos import locate
from lossybench.registry import load_registry

BUILTIN = ("jpeg", "webp", "jpeg2000", "avif", "heic", "jpegxl")
TARGETS = [0.1, 0.25, 0.5, 1.0, 2.0]


# -- fixtures -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def registry():
    return load_registry()


def _photo(stem: str) -> np.ndarray:
    path = locate("scikit-image", f"skimage/data/{stem}.png")
    if path is None:
        pytest.skip(f"scikit-image's {stem}.png is not installed")
    return load_image(path)


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return _photo("astronaut")


@pytest.fixture(scope="module")
def crop(astronaut: np.ndarray) -> np.ndarray:
    """256x256 around the face: detail, skin and flat background."""
    return np.ascontiguousarray(astronaut[0:256, 128:384])


@pytest.fixture(scope="module")
def chelsea() -> np.ndarray:
    img = _photo("chelsea")
    assert img.shape == (300, 451, 3)
    return img


@pytest.fixture(params=BUILTIN)
def codec(request, registry) -> Codec:
    cls = registry.codec(request.param)
    assert cls.name == request.param
    cls.check_available()
    return cls()


# -- helpers --------------------------------------------------------------------------
def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


def setting(codec: Codec, frac: float) -> float:
    """A valid knob value ``frac`` of the way from worst (0) to best (1) quality."""
    q = codec.quality
    x = frac if q.higher_is_better else 1.0 - frac
    if q.log_scale:
        value = math.exp(math.log(q.minimum) + x * (math.log(q.maximum) - math.log(q.minimum)))
    else:
        value = q.minimum + x * (q.maximum - q.minimum)
    if q.kind == "discrete":
        value = q.minimum + round((value - q.minimum) / q.step) * q.step
    return q.validate(value)


def default_setting(codec: Codec) -> float:
    d = codec.quality.default
    return codec.quality.validate(d) if d is not None else setting(codec, 0.5)


# -- tests ----------------------------------------------------------------------------
def test_all_builtin_codecs_registered(registry) -> None:
    names = set(registry.names("codecs"))
    assert set(BUILTIN) <= names
    for name in BUILTIN:
        assert registry.get("codecs", name).origin.plugin == name


def test_backend_is_recorded(codec: Codec) -> None:
    backend = codec.backend()
    assert backend.library.strip()
    assert backend.version.strip() and backend.version != "?"
    ident = codec.identity()
    assert ident["name"] == codec.name
    assert ident["backend"]["library"] == backend.library


def test_roundtrip_photo(codec: Codec, crop: np.ndarray) -> None:
    bits, decoded = codec.roundtrip(crop, default_setting(codec))
    assert decoded.shape == crop.shape
    assert decoded.dtype == np.uint8
    bpp = bits_per_pixel(bits, crop.shape[1], crop.shape[0])
    assert 0 < bpp < 24
    # Garbage (wrong channel order, shifted image) would be far below this.
    assert psnr(crop, decoded) > 25


def test_rate_and_quality_rise_together(codec: Codec, crop: np.ndarray) -> None:
    h, w = crop.shape[:2]
    low, high = setting(codec, 0.25), setting(codec, 0.75)
    bits_lo, dec_lo = codec.roundtrip(crop, low)
    bits_hi, dec_hi = codec.roundtrip(crop, high)
    bpp_lo, bpp_hi = bits_per_pixel(bits_lo, w, h), bits_per_pixel(bits_hi, w, h)
    assert bpp_lo < bpp_hi, f"{codec.name}: {low} -> {bpp_lo:.3f} bpp, {high} -> {bpp_hi:.3f} bpp"
    assert psnr(crop, dec_lo) < psnr(crop, dec_hi)


@pytest.mark.parametrize("shape", [(300, 451), (13, 17)], ids=["451x300", "17x13"])
def test_odd_sizes(codec: Codec, chelsea: np.ndarray, shape: tuple[int, int]) -> None:
    h, w = shape
    img = np.ascontiguousarray(chelsea[:h, :w])
    _, decoded = codec.roundtrip(img, default_setting(codec))
    assert decoded.shape == img.shape and decoded.dtype == np.uint8
    assert psnr(img, decoded) > 20


def test_one_pixel_roundtrips_or_raises_codec_error(codec: Codec) -> None:
    img = np.full((1, 1, 3), (200, 30, 90), dtype=np.uint8)
    try:
        _, decoded = codec.roundtrip(img, default_setting(codec))
    except CodecError:
        return
    assert decoded.shape == (1, 1, 3) and decoded.dtype == np.uint8


def test_corrupt_bitstream_raises_codec_error(codec: Codec, crop: np.ndarray) -> None:
    small = np.ascontiguousarray(crop[:64, :64])
    bits = codec.encode(small, default_setting(codec))
    rng = np.random.default_rng(0)
    for bad in (bits[: len(bits) // 2], rng.bytes(len(bits)), b""):
        with pytest.raises(CodecError):
            codec.safe_decode(bad)


def test_deterministic(codec: Codec, crop: np.ndarray) -> None:
    q = default_setting(codec)
    assert codec.encode(crop, q) == codec.encode(crop, q)


def test_options_roundtrip(registry, crop: np.ndarray) -> None:
    """Every option with choices accepts a non-default value (as parsed from the CLI)."""
    small = np.ascontiguousarray(crop[:64, :64])
    for name in BUILTIN:
        cls = registry.codec(name)
        for opt in cls.options:
            others = [c for c in (opt.choices or ()) if c != opt.default]
            values = sorted(set(others[:1] + others[-1:]), key=others.index)  # both ends
            if isinstance(opt.default, bool):
                values = [not opt.default]
            for value in values:
                inst = cls(**{opt.name: str(value)})
                assert inst.settings[opt.name] == value
                _, decoded = inst.roundtrip(small, default_setting(inst))
                assert decoded.shape == small.shape, f"{inst.label}"


def test_rate_search_respects_targets(codec: Codec, crop: np.ndarray) -> None:
    search = RateSearch(codec, crop)
    points = search.solve(TARGETS)
    assert [p.target for p in points] == TARGETS
    reached = 0
    for p in points:
        assert p.status in ("ok", "too_low", "too_high")
        if p.status == "ok":
            reached += 1
            assert p.bpp <= p.target, f"{codec.name}: {p.bpp:.4f} bpp > target {p.target}"
        codec.quality.validate(p.quality)
        assert p.bpp == bits_per_pixel(p.bitstream, crop.shape[1], crop.shape[0])
    assert reached >= 3, [(p.target, p.status) for p in points]
    print(
        f"\n{codec.name}: {search.encodes} encodes for {len(TARGETS)} targets "
        f"({search.encodes / len(TARGETS):.2f} per target); "
        + ", ".join(f"{p.target:g}->{p.bpp:.3f}[{p.status}]" for p in points)
    )


#: Codecs that ship a rate prior (fixed data fitted by scripts/fit_rate_priors.py).
WITH_PRIOR = ("jpeg", "webp", "avif", "heic", "jpegxl")


def knob_grid(codec: Codec, n: int = 200) -> list[float]:
    """Every level of a discrete knob, else ``n`` points across it, in better order."""
    q = codec.quality
    if q.levels is not None:
        pts = list(q.levels)
    elif q.log_scale:
        a, b = math.log(q.minimum), math.log(q.maximum)
        pts = [min(max(math.exp(a + i * (b - a) / (n - 1)), q.minimum), q.maximum)
               for i in range(n)]
    else:
        pts = [q.minimum + i * (q.maximum - q.minimum) / (n - 1) for i in range(n)]
    return sorted(pts, reverse=not q.higher_is_better)


@pytest.mark.parametrize("name", BUILTIN)
def test_rate_prior_is_positive_and_monotone(registry, name: str) -> None:
    """Rate control follows the prior's shape: it must grow with quality everywhere."""
    codec = registry.codec(name)()
    bpp = [codec.rate_prior(v) for v in knob_grid(codec)]
    if name not in WITH_PRIOR:
        assert all(b is None for b in bpp)
        return
    assert all(b is not None and math.isfinite(b) and b > 0 for b in bpp), name
    assert all(b1 > b0 for b0, b1 in itertools.pairwise(bpp)), name
    # a plausible photo rate at the default setting
    assert 0.2 < codec.rate_prior(default_setting(codec)) < 4.0


# -- codec-specific promises --------------------------------------------------------------
@pytest.mark.parametrize(("name", "fmt", "q"), [("jpeg", "JPEG", 75), ("webp", "WEBP", 75)])
def test_defaults_match_plain_pillow_save(
    registry, crop: np.ndarray, name: str, fmt: str, q: int
) -> None:
    """CompressAI's bench calls ``img.save(buf, format=..., quality=q)``: same bytes."""
    buf = io.BytesIO()
    Image.fromarray(crop).save(buf, format=fmt, quality=q)
    assert registry.codec(name)().encode(crop, q) == buf.getvalue()


def test_jpeg2000_first_guess_lands_near_target(registry, crop: np.ndarray) -> None:
    """The knob is a rate: the first encode rate control tries is just under the target."""
    codec = registry.codec("jpeg2000")()
    h, w = crop.shape[:2]
    for target in (0.25, 0.5, 1.0, 2.0):
        guess = codec.initial_guess(target, w, h)
        assert guess is not None
        bpp = bits_per_pixel(codec.encode(crop, guess), w, h)
        assert 0.97 * target <= bpp <= target, f"target {target}: first guess gave {bpp:.4f} bpp"
    assert codec.encode(crop, 1.0)[:4] == b"\xff\x4f\xff\x51"  # raw codestream: SOC + SIZ


def test_heic_does_not_register_pillow_opener() -> None:
    """Importing and using the heic plugin must not change what Pillow can open."""
    code = (
        "import numpy as np\n"
        "from PIL import Image\n"
        "from lossybench.registry import load_registry\n"
        "c = load_registry().codec('heic')()\n"
        "img = np.zeros((16, 16, 3), np.uint8)\n"
        "c.roundtrip(img, 50)\n"
        "assert '.heic' not in Image.registered_extensions(), 'opener registered'\n"
        "assert 'HEIF' not in Image.OPEN, 'opener registered'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_avif_bits_do_not_depend_on_core_count(registry, crop: np.ndarray) -> None:
    """libaom codes differently with one thread; the codec always asks for several."""
    buf = io.BytesIO()
    Image.fromarray(crop).save(buf, format="AVIF", quality=60, max_threads=16)
    assert registry.codec("avif")().encode(crop, 60) == buf.getvalue()
