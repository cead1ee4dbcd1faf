"""Neural codecs: the shipped learned codec and the CompressAI zoo plugin.

Everything runs offline: the learned codec's weights ship with lossybench, and the zoo
is exercised with randomly initialised CompressAI models saved as user checkpoints or
placed where torch hub's cache would hold downloads.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("compressai")

from lossybench.codec import bits_per_pixel  # noqa: E402
from lossybench.engine.metrics import psnr  # noqa: E402
from lossybench.engine.ratecontrol import RateSearch  # noqa: E402
from lossybench.errors import CodecError, OutOfRangeError  # noqa: E402
from lossybench.kits.neural_codec import (  # noqa: E402
    Bitstream,
    clear_model_cache,
    encode_levels,
    floor_level,
    pack_bitstream,
    padding_for,
    unpack_bitstream,
)
from lossybench.plugins.codecs import compressai_zoo as zoo  # noqa: E402
from lossybench.plugins.codecs import learned  # noqa: E402

NAME = "lossybench-hyperprior"


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def codec() -> learned.LearnedHyperprior:
    return learned.LearnedHyperprior()


@pytest.fixture(scope="module")
def small(astronaut: np.ndarray) -> np.ndarray:
    """A 192x128 crop of a real photo: fast, and not a multiple of 64 in width."""
    return np.ascontiguousarray(astronaut[40:168, 100:292])


# -- the shipped learned codec ------------------------------------------------------------
def test_registered_and_available(registry) -> None:
    cls = registry.codec(NAME)
    assert cls is learned.LearnedHyperprior
    cls.check_available()
    b = cls.backend()
    assert b.library == "compressai" and b.version != "not installed"
    assert "torch" in b.binding and "weights" in b.binding


def test_shipped_weights_match_config() -> None:
    cfg = learned.training_config()
    files = cfg["files"]
    assert len(files) >= 5, "at least five rate points"
    total = 0
    for f in files:
        path = learned.WEIGHTS_DIR / f["file"]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == f["sha256"]
        total += path.stat().st_size
    total += learned.CONFIG.stat().st_size
    assert total <= 8_000_000
    keys = ("lambdas", "seed", "crop", "lr", "architecture", "N", "M", "versions", "wall_seconds")
    for key in keys:
        assert key in cfg
    assert sorted(cfg["lambdas"]) == cfg["lambdas"]
    assert {m for m, _ in learned.LEVELS} == {f["rate_point"] for f in files}


def test_decoded_equals_network_reconstruction(codec, chelsea) -> None:
    """What the bitstream decodes to is what the network itself reconstructs."""
    for q in (1, codec.quality.levels[-1]):
        bits = codec.encode(chelsea, q)
        decoded = codec.decode(bits)
        own = codec.reconstruct(chelsea, q)
        assert decoded.shape == chelsea.shape == own.shape  # 451x300: odd width, padded
        diff = np.abs(decoded.astype(np.int16) - own.astype(np.int16))
        assert diff.mean() < 0.5 and psnr(own, decoded) > 40
        assert psnr(chelsea, decoded) > 20


def test_bpp_is_from_real_bytes(codec, small) -> None:
    h, w = small.shape[:2]
    bits = codec.encode(small, 3)
    search = RateSearch(codec, small)
    trial = search.trial(search.u_of(3))
    assert trial.bitstream == bits
    assert trial.bpp == pytest.approx(8 * len(bits) / (h * w)) == bits_per_pixel(bits, w, h)
    header = unpack_bitstream(NAME, bits)
    assert len(bits) > sum(len(s) for s in header.strings)  # the header is counted too


def test_identical_bytes_across_runs(codec, small) -> None:
    first = codec.encode(small, 2)
    clear_model_cache()  # reload the float16 weights from disk
    again = learned.LearnedHyperprior().encode(small, 2)
    assert first == again
    assert pickle.loads(pickle.dumps(codec)).encode(small, 2) == first


@pytest.mark.parametrize("shape", [(13, 17), (300, 451), (1, 1), (64, 65)])
def test_odd_sizes_round_trip(codec, astronaut, shape) -> None:
    h, w = shape
    image = np.ascontiguousarray(astronaut[:h, :w])
    _, decoded = codec.roundtrip(image, 2)
    assert decoded.shape == image.shape and decoded.dtype == np.uint8
    if h * w > 1000:
        assert psnr(image, decoded) > 20


def test_rate_grows_with_level(codec, small) -> None:
    sizes = [len(codec.encode(small, q)) for q in codec.quality.levels]
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1]


def test_levels_are_validated(codec, small) -> None:
    with pytest.raises(OutOfRangeError):
        codec.encode(small, 0)
    with pytest.raises(OutOfRangeError):
        codec.encode(small, codec.quality.maximum + 1)
    with pytest.raises(OutOfRangeError):
        codec.encode(small, 1.5)


def test_encode_batch_equals_single_encodes(codec, small, chelsea) -> None:
    flips = [np.ascontiguousarray(small[:, ::-1]), np.ascontiguousarray(small[::-1])]
    images = [small, flips[0], chelsea, flips[1]]
    batched = codec.encode_batch(images, 2, batch_size=3)
    assert batched == [codec.encode(im, 2) for im in images]
    for im, bits in zip(images, batched, strict=True):
        assert codec.decode(bits).shape == im.shape


def test_encode_levels_and_floor_policy(codec, small) -> None:
    h, w = small.shape[:2]
    table = encode_levels(codec, [small], batch_size=2)[0]
    assert sorted(table) == codec.quality.levels
    mid = 8 * len(table[3]) / (h * w)
    level, bits, status = floor_level(table, mid, h, w)
    assert (level, status) == (3, "ok") and bits == table[3]
    level, bits, status = floor_level(table, mid * 1.0001, h, w)
    assert level == 3
    level, _, status = floor_level(table, 0.0001, h, w)
    assert (level, status) == (1, "too_low")
    # rate control's floor policy agrees with the exhaustive table
    for target in (0.3, 1.0):
        point = RateSearch(codec, small).solve([target])[0]
        expect, _, expect_status = floor_level(table, target, h, w)
        assert (point.quality, point.status) == (expect, expect_status)


def test_corrupt_bitstreams_give_codec_errors(codec, small) -> None:
    bits = codec.encode(small, 2)
    flipped = bytearray(bits)
    flipped[len(bits) // 2] ^= 0x10
    cases = {
        "truncated": bits[:-3],
        "header only": bits[:12],
        "empty": b"",
        "garbage": b"\x00\x01garbage" * 20,
        "bit flip": bytes(flipped),
        "trailing": bits + b"\x00",
        "bad version": bits[:4] + b"\x09" + bits[5:],
    }
    for label, bad in cases.items():
        with pytest.raises(CodecError):
            codec.safe_decode(bad)
        with pytest.raises(CodecError):
            codec.decode(bad)
        assert label


def test_valid_crc_but_inconsistent_header(codec, small) -> None:
    """A header that passes the CRC is still checked before anything is allocated."""
    bs = unpack_bitstream(NAME, codec.encode(small, 2))

    def make(**kw: object) -> bytes:
        fields = {**bs.__dict__, **kw}
        return pack_bitstream(NAME, Bitstream(**fields))  # type: ignore[arg-type]

    for bad in (
        make(height=1_000_000, width=1_000_000),  # huge: refused before any allocation
        make(shape=(bs.shape[0] + 1, bs.shape[1])),
        make(level=99),
        make(strings=bs.strings[:1]),
        make(height=0),
    ):
        with pytest.raises(CodecError):
            codec.decode(bad)
    other = pack_bitstream("bmshj2018-factorized-mse", bs)
    with pytest.raises(CodecError, match="another codec"):
        codec.decode(other)


def test_header_layout_is_small_and_documented() -> None:
    bs = Bitstream(3, 300, 451, (5, 8), (b"y" * 10, b"z" * 4))
    data = pack_bitstream(NAME, bs)
    assert data[:4] == b"LBNC" and data[4] == 1
    (crc,) = struct.unpack(">I", data[5:9])
    assert crc == zlib.crc32(data[9:])
    assert len(data) - 14 <= 25  # header bytes beyond the strings
    assert unpack_bitstream(NAME, data) == bs
    assert padding_for(300, 451, 64) == (30, 31, 10, 10)


def test_corrupt_weights_are_refused(tmp_path, monkeypatch, small) -> None:
    copy = tmp_path / "weights"
    shutil.copytree(learned.WEIGHTS_DIR, copy)
    first = json.loads((copy / f"{NAME}.json").read_text())["files"][0]["file"]
    data = bytearray((copy / first).read_bytes())
    data[-100] ^= 0xFF
    (copy / first).write_bytes(bytes(data))
    monkeypatch.setattr(learned, "WEIGHTS_DIR", copy)
    monkeypatch.setattr(learned, "CONFIG", copy / f"{NAME}.json")
    monkeypatch.setattr(learned, "_verified", set())
    learned.training_config.cache_clear()
    clear_model_cache()
    try:
        with pytest.raises(CodecError, match="corrupt"):
            learned.LearnedHyperprior().encode(small, 1)
    finally:
        learned.training_config.cache_clear()
        clear_model_cache()


# -- the CompressAI zoo ----------------------------------------------------------------------
ZOO_NAMES = {
    "bmshj2018-factorized-mse", "bmshj2018-factorized-ms-ssim", "bmshj2018-factorized-relu",
    "bmshj2018-hyperprior-mse", "bmshj2018-hyperprior-ms-ssim", "mbt2018-mean-mse",
    "mbt2018-mean-ms-ssim", "mbt2018-mse", "mbt2018-ms-ssim", "cheng2020-anchor-mse",
    "cheng2020-anchor-ms-ssim", "cheng2020-attn-mse", "cheng2020-attn-ms-ssim",
}


@pytest.fixture
def empty_hub(tmp_path, monkeypatch) -> Path:
    """torch hub pointed at an empty directory; no checkpoint env; downloads fail loudly."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv(zoo.CHECKPOINTS_ENV, raising=False)
    monkeypatch.delenv(zoo.OFFLINE_ENV, raising=False)

    def no_network(url: str, dest: Path) -> None:
        raise OSError("network is unreachable (test)")

    monkeypatch.setattr(zoo, "download", no_network)
    clear_model_cache()
    return tmp_path / "torch" / "hub" / "checkpoints"


def _random_state(arch: str = "bmshj2018-factorized", quality: int = 1) -> dict:
    from compressai.zoo import image as zi

    torch.manual_seed(0)
    cls = zi.model_architectures.get(arch) or zi.model_architectures["bmshj2018_factorized_relu"]
    return cls(*zi.cfgs[arch][quality]).state_dict()


def test_zoo_names_registered(registry) -> None:
    assert set(registry.names("codecs")) >= ZOO_NAMES
    assert registry.codec("cheng2020-attn-mse").quality.maximum == 6
    assert registry.codec("mbt2018-mse").quality.levels == [1, 2, 3, 4, 5, 6, 7, 8]
    for name in ZOO_NAMES:  # generated classes pickle by reference
        cls = registry.codec(name)
        assert pickle.loads(pickle.dumps(cls)) is cls
        assert pickle.loads(pickle.dumps(cls(device="cpu"))).name == name


def test_zoo_without_weights_names_the_file(empty_hub, small) -> None:
    cls = zoo.Zoo_bmshj2018_hyperprior_mse
    expected = empty_hub / "bmshj2018-hyperprior-1-7eb97409.pth.tar"
    with pytest.raises(CodecError, match="no weights") as info:
        cls.check_available()
    assert str(empty_hub) in str(info.value)
    with pytest.raises(CodecError) as info:
        cls().encode(small, 1)
    msg = str(info.value)
    assert str(expected) in msg and "https://" in msg and "download failed" in msg
    with pytest.raises(CodecError, match="download=false"):
        cls(download="false").encode(small, 1)


def test_zoo_offline_env_skips_download(empty_hub, monkeypatch, small) -> None:
    def must_not_download(url: str, dest: Path) -> None:
        raise AssertionError("tried the network")

    monkeypatch.setattr(zoo, "download", must_not_download)
    monkeypatch.setenv(zoo.OFFLINE_ENV, "1")
    with pytest.raises(CodecError, match=zoo.OFFLINE_ENV):
        zoo.Zoo_mbt2018_mse().encode(small, 3)


def test_zoo_user_checkpoint_round_trip(empty_hub, tmp_path, small) -> None:
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    # the training script's format: {"state_dict": ...} plus bookkeeping
    torch.save({"epoch": 1, "state_dict": _random_state()}, ckpt / "fp-q1.pth.tar")
    cls = zoo.Zoo_bmshj2018_factorized_mse
    codec = cls(checkpoint=str(ckpt / "fp-q{quality}.pth.tar"))
    bits, decoded = codec.roundtrip(small, 1)
    assert unpack_bitstream(cls.name, bits).strings[0]
    assert np.array_equal(decoded, codec.reconstruct(small, 1))  # exact for a factorized prior
    assert codec.encode(small, 1) == bits
    with pytest.raises(CodecError, match=r"fp-q2\.pth\.tar"):
        codec.encode(small, 2)
    # a plain file serves every level; a directory is searched for zoo file names
    plain = cls(checkpoint=str(ckpt / "fp-q1.pth.tar"))
    assert plain.encode(small, 5)
    zoo_name = "bmshj2018-factorized-prior-1-446d5c7f.pth.tar"
    (ckpt / zoo_name).write_bytes((ckpt / "fp-q1.pth.tar").read_bytes())
    assert cls(checkpoint=str(ckpt)).encode(small, 1) == bits
    with pytest.raises(CodecError, match=r"not a CompressAI state dict|cannot read"):
        (ckpt / "bad-q1.pth.tar").write_bytes(b"not a checkpoint")
        cls(checkpoint=str(ckpt / "bad-q{quality}.pth.tar")).encode(small, 1)
    with pytest.raises(CodecError, match="does not fit"):
        torch.save(_random_state("bmshj2018-hyperprior"), ckpt / "hp-q1.pth.tar")
        cls(checkpoint=str(ckpt / "hp-q{quality}.pth.tar")).encode(small, 1)


def test_zoo_hub_cache_is_found(empty_hub, small) -> None:
    """A file where compressai.zoo would have downloaded it is used without the network."""
    cls = zoo.Zoo_bmshj2018_factorized_ms_ssim
    path, url = cls.zoo_file(1)
    assert path.parent == empty_hub and path.name == Path(url).name
    empty_hub.mkdir(parents=True)
    torch.save(_random_state(), path)
    cls.check_available()
    assert cls.local_levels() == [1]
    bits, decoded = cls().roundtrip(small, 1)
    assert decoded.shape == small.shape
    # the learned codec cannot decode it, and says so
    with pytest.raises(CodecError, match="another codec"):
        learned.LearnedHyperprior().decode(bits)


def test_zoo_hyperprior_and_autoregressive_round_trip(empty_hub, tmp_path) -> None:
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (45, 70, 3), dtype=np.uint8)
    for name, arch in (("mbt2018-mean-mse", "mbt2018-mean"), ("mbt2018-mse", "mbt2018")):
        torch.save(_random_state(arch), tmp_path / f"{arch}-1.pth.tar")
        codec = zoo.ZOO_CODECS[[c.name for c in zoo.ZOO_CODECS].index(name)](
            checkpoint=str(tmp_path / f"{arch}-{{quality}}.pth.tar"))
        bits, decoded = codec.roundtrip(image, 1)
        assert decoded.shape == image.shape
        assert codec.encode_batch([image, image], 1) == [bits, bits]


# -- the training script ----------------------------------------------------------------------
@pytest.mark.slow
def test_training_script_smoke(tmp_path) -> None:
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "scripts" / "train_learned_codec.py"
    spec = importlib.util.spec_from_file_location("train_learned_codec", path)
    mod = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(mod)
    args = ["--out", str(tmp_path), "--N", "8", "--M", "8", "--base-steps", "2",
            "--finetune-steps", "1", "--crop", "64", "--batch", "2", "--log-every", "1",
            "--lambdas", "0.01,0.02,0.04,0.08,0.16"]
    assert mod.main(args) == 0
    cfg = json.loads((tmp_path / f"{NAME}.json").read_text())
    assert [f["rate_point"] for f in cfg["files"]] == [1, 2, 3, 4, 5]
    for f in cfg["files"]:
        assert hashlib.sha256((tmp_path / f["file"]).read_bytes()).hexdigest() == f["sha256"]
