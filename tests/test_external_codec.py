"""The external-program codec: real cjpeg/djpeg round trips and TOML definitions.

Tests that need cjpeg/djpeg skip when they are absent (scripts/install-system-deps.sh
installs them); the others use only POSIX ``sh``/``cp`` and always run.
"""

from __future__ import annotations

import io
import itertools
import pickle
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lossybench.codec import bits_per_pixel
from lossybench.engine.ratecontrol import RateSearch
from lossybench.errors import CodecError
from lossybench.image import load_image
from lossybench.plugins.codecs import external
from lossybench.plugins.codecs.external import loading
from lossybench.plugins.datasets.package_photos import locate
from lossybench.registry import load_registry

HAVE_CJPEG = shutil.which("cjpeg") is not None and shutil.which("djpeg") is not None
needs_cjpeg = pytest.mark.skipif(
    not HAVE_CJPEG,
    reason="cjpeg/djpeg not installed (apt-get install libjpeg-turbo-progs, "
    "or run scripts/install-system-deps.sh)",
)
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="uses sh and cp")

GOOD_QUALITY = """
[quality]
min = 1
max = 100
default = 50
"""
# A lossless "codec": copies the input file to the bitstream and back.
COPY = '["sh", "-c", "cp \\"$1\\" \\"$2\\"", "sh", "{input}", "{output}"]'


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No user definitions leak in from the environment or ~/.config."""
    monkeypatch.delenv(external.ENV_VAR, raising=False)
    empty = tmp_path_factory.mktemp("config")
    monkeypatch.setattr(loading, "user_codec_dir", lambda: empty)


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    path = locate("scikit-image", "skimage/data/astronaut.png")
    if path is None:
        pytest.skip("scikit-image's astronaut.png is not installed")
    return load_image(path)


@pytest.fixture()
def cjpeg() -> external.ExternalCodec:
    d = external.parse_definition(external.BUILTIN_DIR / "cjpeg.toml", builtin=True)
    return external.codec_class(d)()


def user_codec(
    tmp_path: Path, body: str, monkeypatch: pytest.MonkeyPatch, name: str = "mine"
) -> type[external.ExternalCodec]:
    """Write one definition, point the env var at it and return its class."""
    path = tmp_path / f"{name}.toml"
    path.write_text(body)
    monkeypatch.setenv(external.ENV_VAR, str(tmp_path))
    classes = {c.name: c for c in external.load_definitions()}
    assert name in classes, external.definition_errors()
    return classes[name]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / mse)) if mse > 0 else float("inf")


# -- real round trips through cjpeg/djpeg ---------------------------------------------------
@needs_cjpeg
def test_builtin_cjpeg_is_registered_when_installed() -> None:
    assert "cjpeg" in [c.name for c in external.load_definitions()]
    assert external.definition_errors() == []


@needs_cjpeg
def test_roundtrip_shape_and_bpp_from_bytes(
    cjpeg: external.ExternalCodec, astronaut: np.ndarray
) -> None:
    bits, decoded = cjpeg.roundtrip(astronaut, 75)
    assert decoded.shape == astronaut.shape and decoded.dtype == np.uint8
    assert bits[:2] == b"\xff\xd8"  # a real JPEG file, not a stand-in
    h, w = astronaut.shape[:2]
    assert bits_per_pixel(bits, w, h) == 8 * len(bits) / (w * h)
    assert 30 < psnr(astronaut, decoded) < 40


@needs_cjpeg
def test_bpp_rises_with_quality(cjpeg: external.ExternalCodec, astronaut: np.ndarray) -> None:
    sizes = [len(cjpeg.encode(astronaut, q)) for q in (5, 20, 40, 60, 80, 95)]
    assert sizes == sorted(sizes) and len(set(sizes)) == len(sizes)


@needs_cjpeg
@pytest.mark.parametrize("quality", [30, 50, 75, 90])
def test_matches_pillow_jpeg(
    cjpeg: external.ExternalCodec, astronaut: np.ndarray, quality: int
) -> None:
    bits, decoded = cjpeg.roundtrip(astronaut, quality)
    buf = io.BytesIO()
    Image.fromarray(astronaut).save(buf, format="JPEG", quality=quality)
    pillow = load_image(buf.getvalue())
    assert abs(psnr(astronaut, decoded) - psnr(astronaut, pillow)) < 1.0
    assert abs(len(bits) - len(buf.getvalue())) < 0.05 * len(buf.getvalue())


@needs_cjpeg
def test_rate_control_hits_targets(cjpeg: external.ExternalCodec, astronaut: np.ndarray) -> None:
    targets = [0.1, 0.2, 0.3, 0.5, 1.0, 2.0]
    search = RateSearch(cjpeg, astronaut)
    points = search.solve(targets)
    assert [p.target for p in points] == targets
    for p in points:
        assert p.status in ("ok", "too_low")
        if p.status == "ok":
            assert p.bpp <= p.target
            assert p.bpp > 0.8 * p.target  # a 1..100 knob lands close below
        decoded = cjpeg.safe_decode(p.bitstream)
        assert decoded.shape == astronaut.shape
    assert sum(p.status == "ok" for p in points) >= 5
    assert search.encodes <= 40


def test_rate_prior_is_parsed_and_interpolated(tmp_path: Path) -> None:
    body = (
        'name = "distance"\n'
        f"encode = {BASE['encode']}\ndecode = {BASE['decode']}\n"
        "[quality]\nmin = 0.1\nmax = 25\nkind = \"continuous\"\nlog_scale = true\n"
        "higher_is_better = false\n"
        '[rate_prior]\n25 = 0.1\n"0.1" = 6.0\n1 = 1.5\n'
    )
    (tmp_path / "distance.toml").write_text(body)
    cls = external.codec_class(external.parse_definition(tmp_path / "distance.toml"))
    assert cls.definition.rate_prior == ((0.1, 6.0), (1.0, 1.5), (25.0, 0.1))
    codec = cls()
    assert codec.rate_prior(1.0) == pytest.approx(1.5)
    # log-scale knob: interpolated in log(distance), so the geometric midpoint
    assert codec.rate_prior(0.1**0.5) == pytest.approx((6.0 * 1.5) ** 0.5)
    assert codec.rate_prior(50.0) < 0.1  # extrapolated along the end segment
    pickled = pickle.loads(pickle.dumps(codec))
    assert pickled.rate_prior(1.0) == pytest.approx(1.5)


def test_no_rate_prior_means_none(tmp_path: Path) -> None:
    (tmp_path / "plain.toml").write_text(toml_text({**BASE, "name": '"plain"'}))
    cls = external.codec_class(external.parse_definition(tmp_path / "plain.toml"))
    assert cls.definition.rate_prior is None and cls().rate_prior(50) is None


def test_builtin_cjpeg_ships_a_monotone_rate_prior() -> None:
    d = external.parse_definition(external.BUILTIN_DIR / "cjpeg.toml", builtin=True)
    assert d.rate_prior is not None and len(d.rate_prior) >= 5
    codec = external.codec_class(d)()
    bpp = [codec.rate_prior(q) for q in codec.quality.levels or []]
    assert all(b > 0 for b in bpp)
    assert all(b1 > b0 for b0, b1 in itertools.pairwise(bpp))


@needs_cjpeg
def test_rate_prior_saves_encodes(cjpeg: external.ExternalCodec, astronaut: np.ndarray) -> None:
    """The TOML's prior is what rate control uses: fewer encodes than without it."""
    targets = [0.2, 0.3, 0.5, 1.0, 2.0]
    blind = type(cjpeg)()
    blind.rate_prior = lambda quality: None  # type: ignore[method-assign]
    counts = []
    for codec in (cjpeg, blind):
        search = RateSearch(codec, astronaut, tolerance=0.1)
        points = search.solve(targets)
        assert all(p.status == "ok" and 0.9 * p.target <= p.bpp <= p.target for p in points)
        counts.append(search.encodes)
    # measured: 8 encodes with the prior, 11 without
    assert counts[0] <= 8 < counts[1], counts


@needs_cjpeg
def test_pickle_round_trip(cjpeg: external.ExternalCodec, astronaut: np.ndarray) -> None:
    before = cjpeg.encode(astronaut, 60)
    clone = pickle.loads(pickle.dumps(cjpeg))
    assert type(clone) is type(cjpeg)
    assert clone.name == "cjpeg" and clone.quality == cjpeg.quality
    assert clone.encode(astronaut, 60) == before
    assert clone.safe_decode(before).shape == astronaut.shape


@needs_cjpeg
def test_backend_reports_program_version() -> None:
    d = external.parse_definition(external.BUILTIN_DIR / "cjpeg.toml")
    backend = external.codec_class(d).backend()
    assert backend.library == "cjpeg"
    assert "libjpeg" in backend.version.lower()


@needs_cjpeg
def test_registry_lists_builtin_cjpeg() -> None:
    registry = load_registry()
    assert "cjpeg" in registry.names("codecs")
    assert not [e for e in registry.errors if e.plugin == "external"]


# -- definitions from the user --------------------------------------------------------------
@posix_only
def test_user_toml_shows_up_in_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "copy.toml").write_text(
        f'name = "copycat"\nencode = {COPY[:-1]}, "{{quality}}"]\ndecode = {COPY}\n{GOOD_QUALITY}'
    )
    monkeypatch.setenv(external.ENV_VAR, str(tmp_path))
    registry = load_registry()
    assert "copycat" in registry.names("codecs")
    assert registry.get("codecs", "copycat").origin.plugin == "external"


def test_env_var_accepts_a_file_and_reports_missing_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "odd-name.conf"
    path.write_text(
        f'name = "filed"\nencode = ["x", "{{input}}", "{{output}}", "{{quality}}"]\n'
        f'decode = ["y", "{{input}}", "{{output}}"]\n{GOOD_QUALITY}'
    )
    import os

    monkeypatch.setenv(external.ENV_VAR, os.pathsep.join([str(path), str(tmp_path / "nope")]))
    assert [c.name for c in external.load_definitions() if c.name == "filed"] == ["filed"]
    errors = external.definition_errors()
    assert len(errors) == 1 and "nope" in errors[0]


@posix_only
def test_raw_rgb_and_yuv_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Planar raw files (what VTM reads and writes) and {width}/{height} in decode."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, size=(37, 53, 3), dtype=np.uint8)
    decode_wh = (
        '["sh", "-c", "test \\"$3x$4\\" = 53x37 && cp \\"$1\\" \\"$2\\"", "sh", '
        '"{input}", "{output}", "{width}", "{height}"]'
    )
    for suffix, tolerance in ((".rgb", 0), (".yuv", 2)):
        name = f"raw{suffix[1:]}"
        cls = user_codec(
            tmp_path,
            (
                f'name = "{name}"\nencode = {COPY[:-1]}, "{{quality}}"]\ndecode = {decode_wh}\n'
                f'input_suffix = "{suffix}"\ndecoded_suffix = "{suffix}"\n{GOOD_QUALITY}'
            ),
            monkeypatch,
            name,
        )
        codec = cls()
        bits, decoded = codec.roundtrip(image, 10)
        assert len(bits) == 3 * 37 * 53
        diff = np.abs(decoded.astype(int) - image.astype(int)).max()
        assert diff <= tolerance, (suffix, diff)
        # A fresh instance cannot know the size of a raw output.
        with pytest.raises(CodecError, match="width"):
            cls().decode(bits)


def test_quality_formatting() -> None:
    from lossybench.codec import QualityRange

    assert external.format_quality(QualityRange(1, 100), 75.0) == "75"
    assert external.format_quality(QualityRange(0, 51, step=1), 37) == "37"
    assert external.format_quality(QualityRange(0.5, 10, kind="continuous"), 2.25) == "2.25"
    assert external.format_quality(QualityRange(0, 1, step=0.25), 0.75) == "0.75"


# -- validation -------------------------------------------------------------------------------
BASE = {
    "name": '"bad"',
    "encode": '["enc", "{input}", "{output}", "{quality}"]',
    "decode": '["dec", "{input}", "{output}"]',
}


def toml_text(top: dict[str, str], quality: str = GOOD_QUALITY) -> str:
    return "".join(f"{k} = {v}\n" for k, v in top.items()) + quality


Q09 = "[quality]\nmin = 0\nmax = 9\n"
BAD_DEFINITIONS: dict[str, tuple[str, str]] = {
    # id: (file text, what the error must mention)
    "unknown-key": (toml_text({**BASE, "encoder": '"x"'}), "encoder"),
    "missing-name": (toml_text({k: v for k, v in BASE.items() if k != "name"}), "name: missing"),
    "missing-decode": (toml_text({k: v for k, v in BASE.items() if k != "decode"}), "decode"),
    "missing-quality": (toml_text(BASE, ""), "quality: missing"),
    "encode-is-string": (toml_text({**BASE, "encode": '"enc {input} {output}"'}), "encode"),
    "timeout-string": (toml_text({**BASE, "timeout": '"60"'}), "timeout"),
    "bad-name": (toml_text({**BASE, "name": '"My Codec"'}), "name"),
    "min-ge-max": (toml_text(BASE, "[quality]\nmin = 51\nmax = 0\n"), "quality.min"),
    "missing-max": (toml_text(BASE, "[quality]\nmin = 0\n"), "quality.max"),
    "quality-unknown-key": (
        toml_text(BASE, f"{Q09}higher_is_beter = false\n"),
        "quality.higher_is_beter",
    ),
    "bool-as-string": (
        toml_text(BASE, f'{Q09}higher_is_better = "no"\n'),
        "quality.higher_is_better",
    ),
    "bad-kind": (toml_text(BASE, f'{Q09}kind = "stepped"\n'), "quality.kind"),
    "default-outside": (toml_text(BASE, f"{Q09}default = 20\n"), "quality.default"),
    "step-not-dividing": (
        toml_text(BASE, "[quality]\nmin = 0\nmax = 10\nstep = 3\n"),
        "quality.step",
    ),
    "no-output-in-encode": (
        toml_text({**BASE, "encode": '["enc", "{input}", "{quality}"]'}),
        "{output}",
    ),
    "no-quality-in-encode": (
        toml_text({**BASE, "encode": '["enc", "{input}", "{output}"]'}),
        "{quality}",
    ),
    "no-input-in-decode": (toml_text({**BASE, "decode": '["dec", "{output}"]'}), "{input}"),
    "unknown-placeholder": (
        toml_text({**BASE, "decode": '["dec", "{input}", "{output}", "{qp}"]'}),
        "{qp}",
    ),
    "quality-in-decode": (
        toml_text({**BASE, "decode": '["dec", "{input}", "{output}", "{quality}"]'}),
        "decode",
    ),
    "bad-input-suffix": (toml_text({**BASE, "input_suffix": '".exr"'}), "input_suffix"),
    "not-toml": ("name = \n", "not valid TOML"),
    "rate-prior-not-table": (toml_text({**BASE, "rate_prior": "3"}, Q09), "rate_prior: must be"),
    "rate-prior-one-entry": (
        toml_text(BASE, f"{Q09}[rate_prior]\n5 = 0.5\n"),
        "at least two",
    ),
    "rate-prior-not-monotone": (
        toml_text(BASE, f"{Q09}[rate_prior]\n1 = 0.5\n5 = 0.4\n9 = 2\n"),
        "not monotone",
    ),
    "rate-prior-wrong-direction": (
        toml_text(BASE, f"{Q09}higher_is_better = false\n[rate_prior]\n1 = 0.5\n5 = 0.9\n"),
        "lower quality",
    ),
    "rate-prior-zero": (
        toml_text(BASE, f"{Q09}[rate_prior]\n1 = 0\n5 = 0.4\n"),
        "rate_prior.1: must be a positive number",
    ),
    "rate-prior-string-bpp": (
        toml_text(BASE, f'{Q09}[rate_prior]\n1 = "0.2"\n5 = 0.4\n'),
        "rate_prior.1: must be a positive number",
    ),
    "rate-prior-outside-range": (
        toml_text(BASE, f"{Q09}[rate_prior]\n1 = 0.2\n20 = 0.4\n"),
        "rate_prior.20: unknown setting",
    ),
    "rate-prior-not-a-level": (
        toml_text(BASE, f'{Q09}[rate_prior]\n1 = 0.2\n"2.5" = 0.4\n'),
        "rate_prior.2.5: unknown setting",
    ),
    "rate-prior-key-not-a-number": (
        toml_text(BASE, f"{Q09}[rate_prior]\n1 = 0.2\nhigh = 0.4\n"),
        "rate_prior.high: 'high' is not a quality setting",
    ),
    "rate-prior-duplicate-setting": (
        toml_text(BASE, f'{Q09}[rate_prior]\n1 = 0.2\n"1.0" = 0.3\n5 = 0.4\n'),
        "given twice",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_DEFINITIONS))
def test_bad_definition_is_reported_not_registered(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text, mention = BAD_DEFINITIONS[case]
    (tmp_path / "broken.toml").write_text(text)
    good = toml_text({**BASE, "name": '"fine"'})
    (tmp_path / "fine.toml").write_text(good)
    monkeypatch.setenv(external.ENV_VAR, str(tmp_path))
    names = [c.name for c in external.load_definitions()]
    assert "fine" in names and "bad" not in names  # one broken file spares the others
    errors = external.definition_errors()
    assert len(errors) == 1, errors
    assert "broken.toml" in errors[0] and mention in errors[0], errors[0]
    with pytest.raises(external.DefinitionError, match=r"broken\.toml"):
        external.parse_definition(tmp_path / "broken.toml")


def test_bad_user_toml_does_not_break_the_plugin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "broken.toml").write_text("this is not toml")
    monkeypatch.setenv(external.ENV_VAR, str(tmp_path))
    registry = load_registry()
    mine = [e for e in registry.errors if e.plugin == "external"]
    assert mine and all(e.stage == "diagnostics" for e in mine)  # not a plugin failure
    assert any("broken.toml" in e.error for e in mine)
    assert any("broken.toml" in e for e in external.definition_errors())


def test_duplicate_user_names_keep_the_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for stem in ("a", "b"):
        (tmp_path / f"{stem}.toml").write_text(toml_text({**BASE, "name": '"twin"'}))
    monkeypatch.setenv(external.ENV_VAR, str(tmp_path))
    twins = [c for c in external.load_definitions() if c.name == "twin"]
    assert len(twins) == 1 and twins[0].definition.path.name == "a.toml"
    (error,) = external.definition_errors()
    assert "b.toml" in error and "a.toml" in error


def test_builtin_with_missing_program_is_hidden(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "ghost.toml").write_text(
        toml_text(
            {
                **BASE,
                "name": '"ghost"',
                "encode": '["lossybench-no-such-program", "{input}", "{output}", "{quality}"]',
            }
        )
    )
    monkeypatch.setattr(loading, "BUILTIN_DIR", tmp_path)
    assert "ghost" not in [c.name for c in external.load_definitions()]
    assert external.definition_errors() == []


@needs_cjpeg
def test_user_definition_overrides_builtin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = (external.BUILTIN_DIR / "cjpeg.toml").read_text()
    (tmp_path / "my-cjpeg.toml").write_text(text.replace('"-quality"', '"-optimize", "-quality"'))
    monkeypatch.setenv(external.ENV_VAR, str(tmp_path))
    (cls,) = [c for c in external.load_definitions() if c.name == "cjpeg"]
    assert "-optimize" in cls.definition.encode and not cls.definition.builtin
    assert external.definition_errors() == []


# -- failures at use time ---------------------------------------------------------------------
@pytest.fixture()
def small() -> np.ndarray:
    return np.full((8, 8, 3), 128, dtype=np.uint8)


@posix_only
def test_failing_program_raises_with_command_and_stderr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small: np.ndarray
) -> None:
    cls = user_codec(
        tmp_path,
        toml_text(
            {
                **BASE,
                "name": '"noisy"',
                "encode": '["sh", "-c", "echo the encoder broke >&2; exit 3", "sh", '
                '"{input}", "{output}", "{quality}"]',
            }
        ),
        monkeypatch,
        "noisy",
    )
    with pytest.raises(CodecError) as info:
        cls().encode(small, 50)
    message = str(info.value)
    assert "noisy" in message and "exit status 3" in message
    assert "the encoder broke" in message and "sh -c" in message


@posix_only
@pytest.mark.parametrize("program", ["false", "true"])
def test_false_and_silent_programs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small: np.ndarray, program: str
) -> None:
    cls = user_codec(
        tmp_path,
        toml_text(
            {
                **BASE,
                "name": f'"{program}"',
                "encode": f'["{program}", "{{input}}", "{{output}}", "{{quality}}"]',
            }
        ),
        monkeypatch,
        program,
    )
    expected = "exit status 1" if program == "false" else "wrote no"
    with pytest.raises(CodecError, match=expected):
        cls().roundtrip(small, 50)


@posix_only
def test_timeout_kills_the_program(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small: np.ndarray
) -> None:
    cls = user_codec(
        tmp_path,
        toml_text(
            {
                **BASE,
                "name": '"slow"',
                "timeout": "0.5",
                # the shell's child keeps the pipe open: the whole group must be killed
                "encode": (
                    '["sh", "-c", "sleep 30; true", "sh", "{input}", "{output}", "{quality}"]'
                ),
            }
        ),
        monkeypatch,
        "slow",
    )
    start = time.monotonic()
    with pytest.raises(CodecError, match=r"timed out after 0\.5 s"):
        cls().encode(small, 50)
    assert time.monotonic() - start < 10


def test_missing_program_gives_install_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small: np.ndarray
) -> None:
    cls = user_codec(
        tmp_path,
        toml_text(
            {
                **BASE,
                "name": '"vapour"',
                "encode": '["lossybench-no-such-encoder", "{input}", "{output}", "{quality}"]',
                "install_hint": '"apt-get install vapourware-tools"',
            }
        ),
        monkeypatch,
        "vapour",
    )
    assert "vapour" in load_registry().names("codecs")  # user definitions always register
    for call in (cls.check_available, lambda: cls().encode(small, 50)):
        with pytest.raises(CodecError) as info:
            call()
        assert "lossybench-no-such-encoder" in str(info.value)
        assert "apt-get install vapourware-tools" in str(info.value)


def test_out_of_range_quality_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small: np.ndarray
) -> None:
    from lossybench.errors import OutOfRangeError

    cls = user_codec(tmp_path, toml_text({**BASE, "name": '"ranged"'}), monkeypatch, "ranged")
    with pytest.raises(OutOfRangeError):
        cls().encode(small, 101)


@pytest.fixture(autouse=True, scope="module")
def rescan_after() -> Iterator[None]:
    """Leave the module's recorded errors as a clean scan would."""
    yield
    external.load_definitions()


@posix_only
def test_version_line_survives_nonzero_exit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cls = user_codec(
        tmp_path,
        toml_text(
            {
                **BASE,
                "name": '"versioned"',
                "version": (
                    '["sh", "-c", "echo; echo Tool version 1.2 >&2; echo usage: ...; exit 1"]'
                ),
            }
        ),
        monkeypatch,
        "versioned",
    )
    assert cls.backend().version == "Tool version 1.2"
    plain = user_codec(tmp_path, toml_text({**BASE, "name": '"plain"'}), monkeypatch, "plain")
    assert plain.backend().version == "?"


@posix_only
def test_program_next_to_the_toml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small: np.ndarray
) -> None:
    script = tmp_path / "enc.sh"
    script.write_text('#!/bin/sh\ncp "$1" "$2"\n')
    script.chmod(0o755)
    cls = user_codec(
        tmp_path,
        toml_text(
            {
                **BASE,
                "name": '"local"',
                "encode": '["{toml_dir}/enc.sh", "{input}", "{output}", "{quality}"]',
                "decode": '["{toml_dir}/enc.sh", "{input}", "{output}"]',
            }
        ),
        monkeypatch,
        "local",
    )
    cls.check_available()
    _, decoded = cls().roundtrip(small, 50)
    assert np.array_equal(decoded, small)


def test_version_line_is_made_printable() -> None:
    """A program's banner may carry colour codes or tabs; a result (and the board) refuse
    control characters, so the recorded version line is cleaned and capped."""
    from lossybench.plugins.codecs.external.codec import VERSION_CHARS, printable

    assert printable("\x1b[1mcjpeg\x1b[0m version\t9f\u202e") == "cjpeg version9f"
    assert len(printable("v" * 500)[:VERSION_CHARS]) == 200
