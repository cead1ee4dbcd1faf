"""Plugin registration through *real* installed entry points.

Each test writes a tiny third-party distribution into a temporary directory: a plugin
module plus a hand-written ``*.dist-info`` folder whose ``entry_points.txt`` declares
it in the ``lossybench`` group. With that directory on ``sys.path``,
``importlib.metadata.entry_points`` finds it exactly as it finds a pip-installed
package, so these tests exercise the same code path as a user's plugin.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import distributions
from pathlib import Path

import numpy as np
import pluggy
import pytest

import lossybench
from lossybench import hookspecs, markers
from lossybench.codec import Codec, bits_per_pixel
from lossybench.errors import ConflictError, UnknownNameError
from lossybench.registry import DISABLE_ENV, KINDS, Origin, PluginFailure, Registry, load_registry

ROOT = Path(__file__).resolve().parents[1]

# A real lossy codec: keep the top ``bits`` bits of every sample, store the result as PNG.
# The module is what a third party would ship; ``CODEC_NAME`` is prepended per test.
ACME_CODEC = """
import io

import numpy as np
import PIL
from PIL import Image

from lossybench import hookimpl
from lossybench.codec import Backend, Codec, QualityRange


class AcmePngCodec(Codec):
    name = CODEC_NAME
    description = "PNG of the image with its low bits dropped (acme test plugin)"
    suffix = ".png"
    quality = QualityRange(1, 8, kind="discrete", step=1, name="bits", default=6)

    def encode(self, image, quality):
        drop = 8 - int(quality)
        kept = (np.asarray(image, dtype=np.uint8) >> drop) << drop
        buf = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(kept), "RGB").save(buf, format="PNG")
        return buf.getvalue()

    def decode(self, bitstream):
        with Image.open(io.BytesIO(bitstream)) as img:
            return np.asarray(img.convert("RGB"))

    @classmethod
    def backend(cls):
        return Backend("zlib", "png", f"Pillow {PIL.__version__}")
"""

GOOD_HOOK = """
@hookimpl
def lossybench_codecs():
    return [AcmePngCodec]
"""


def codec_module(name: str = "acme-png", hook: str = GOOD_HOOK, prelude: str = "") -> str:
    """Source of a plugin module registering ``AcmePngCodec`` as ``name``."""
    return f"{prelude}\nCODEC_NAME = {name!r}\n{ACME_CODEC}\n{textwrap.dedent(hook)}"


def hook_source(body: str) -> str:
    """A ``lossybench_codecs`` hook whose body is ``body`` (indented by four spaces)."""
    return f"@hookimpl\ndef lossybench_codecs():\n    {body}\n"


@dataclass
class Site:
    """A temporary directory on ``sys.path`` that plays the part of site-packages."""

    root: Path

    def install(
        self,
        dist: str,
        entry_points: dict[str, str],
        modules: dict[str, str],
        version: str = "1.0",
    ) -> None:
        for module, source in modules.items():
            (self.root / f"{module}.py").write_text(source)
        info = self.root / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        eps = "".join(f"{name} = {target}\n" for name, target in entry_points.items())
        (info / "entry_points.txt").write_text(f"[lossybench]\n{eps}")
        (info / "RECORD").write_text("")
        importlib.invalidate_caches()  # path and metadata finders cache directory listings

    def acme(self, source: str | None = None, target: str = "acme_codec") -> None:
        """The usual third-party plugin: entry point ``acme`` in ``acme-codec 1.0``."""
        module = target.partition(":")[0]
        self.install("acme-codec", {"acme": target}, {module: source or codec_module()})


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    monkeypatch.delenv(DISABLE_ENV, raising=False)
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield Site(tmp_path)
    # Every test reuses module names such as ``acme_codec``: forget this test's copies.
    for name, module in list(sys.modules.items()):
        origin = getattr(module, "__file__", None) or ""
        if origin.startswith(str(tmp_path)):
            del sys.modules[name]
    importlib.invalidate_caches()


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    """A small smooth image with noise: compresses like a photo, encodes in milliseconds."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:24, 0:32]
    base = np.stack([x * 7, y * 9, (x + y) * 4], axis=-1).astype(np.float64)
    return np.clip(base + rng.normal(0, 6, base.shape), 0, 255).astype(np.uint8)


def failures(reg: Registry, plugin: str) -> list[PluginFailure]:
    return [e for e in reg.errors if plugin in e.plugin.split(", ")]


def only_failure(reg: Registry, plugin: str) -> PluginFailure:
    found = failures(reg, plugin)
    assert len(found) == 1, found
    return found[0]


# -- (a), (b) a working third-party codec ----------------------------------------------
def test_third_party_codec_registers_with_its_origin(site: Site) -> None:
    site.acme()
    reg = load_registry()
    assert "acme-png" in reg.names("codecs")
    assert "jpeg" in reg.names("codecs")  # built-ins load beside it
    entry = reg.get("codecs", "acme-png")
    assert entry.origin == Origin("acme", "acme-codec", "1.0")
    assert reg.plugins["acme"] == entry.origin
    assert "acme-codec 1.0" in str(entry.origin)
    assert entry.description.startswith("PNG of the image")
    assert failures(reg, "acme") == []
    assert reg.get("codecs", "jpeg").origin.distribution == "lossybench"


def test_third_party_codec_round_trips(site: Site, image: np.ndarray) -> None:
    site.acme()
    codec = load_registry().codec("acme-png")()
    h, w = image.shape[:2]

    bits, decoded = codec.roundtrip(image, 8)
    assert np.array_equal(decoded, image)  # 8 bits kept: lossless
    _, decoded4 = codec.roundtrip(image, 4)
    assert decoded4.shape == image.shape and decoded4.dtype == np.uint8
    assert 0 < np.abs(decoded4.astype(int) - image.astype(int)).max() < 16
    sizes = [len(codec.roundtrip(image, b)[0]) for b in (1, 2, 4, 8)]
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1]  # fewer bits kept, fewer bytes
    assert bits_per_pixel(bits, w, h) == 8 * len(bits) / (w * h)
    assert codec.identity()["backend"]["library"] == "zlib"
    assert codec.quality.levels == [float(b) for b in range(1, 9)]


# -- (c) a plugin that fails to import ---------------------------------------------------
@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("raise ImportError('acme needs libacme >= 2')", "ImportError: acme needs libacme >= 2"),
        ("raise RuntimeError('no licence file')", "RuntimeError: no licence file"),
        ("import sys\nsys.exit(3)", "SystemExit: 3"),
        ("import acme_dependency_that_is_not_installed", "ModuleNotFoundError"),
        (
            codec_module(
                "acme-png", prelude="from lossybench.codec import QualityRange\nQualityRange(8, 1)"
            ),
            "ValueError: quality range minimum 8",
        ),
    ],
    ids=["ImportError", "RuntimeError", "SystemExit", "missing-dependency", "bad-range"],
)
def test_plugin_failing_at_import_is_reported(site: Site, source: str, expected: str) -> None:
    site.acme(source)
    reg = load_registry()
    failure = only_failure(reg, "acme")
    assert failure.stage == "import"
    assert failure.distribution == "acme-codec 1.0"
    assert expected in failure.error
    assert "acme" not in reg.plugins
    assert "jpeg" in reg.names("codecs")
    assert reg.codec("jpeg").name == "jpeg"


@pytest.mark.parametrize(
    ("target", "expected"),
    [("acme_codec_missing", "ModuleNotFoundError"), ("acme_codec:no_such_attr", "AttributeError")],
)
def test_entry_point_to_nothing_is_reported(site: Site, target: str, expected: str) -> None:
    site.install("acme-codec", {"acme": target}, {"acme_codec": codec_module()})
    failure = only_failure(load_registry(), "acme")
    assert failure.stage == "import" and expected in failure.error


# -- (d) a hook that raises ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("raise ValueError('acme config missing')", "ValueError: acme config missing"),
        ("import sys\n    sys.exit(4)", "SystemExit: 4"),
    ],
    ids=["ValueError", "SystemExit"],
)
def test_hook_that_raises_is_reported(site: Site, body: str, expected: str) -> None:
    site.acme(codec_module(hook=hook_source(body)))
    site.install(
        "other-codec", {"other": "other_codec"}, {"other_codec": codec_module("other-png")}
    )
    reg = load_registry()
    failure = only_failure(reg, "acme")
    assert failure.stage == "lossybench_codecs"
    assert failure.distribution == "acme-codec 1.0"
    assert expected in failure.error
    assert "acme-png" not in reg.names("codecs")
    assert {"other-png", "jpeg"} <= set(reg.names("codecs"))
    assert failures(reg, "other") == []


# -- (e) malformed returns ----------------------------------------------------------------
# (hook body, expected error text). Every list also holds the valid AcmePngCodec, which
# must still register: a bad item is skipped, not the whole plugin.
NOT_A_CODEC = "not a subclass of lossybench.codec.Codec"
MALFORMED = {
    "instance": ("return [AcmePngCodec(), AcmePngCodec]", NOT_A_CODEC),
    "string": ("return ['acme-png', AcmePngCodec]", NOT_A_CODEC),
    "not-a-codec": (
        "class NotACodec:\n        name = 'nope'\n    return [NotACodec, AcmePngCodec]",
        "NotACodec",
    ),
    "abstract": (
        "class HalfCodec(Codec):\n        name = 'half'\n"
        "        quality = QualityRange(1, 8)\n"
        "        def encode(self, image, quality):\n            return b'x'\n"
        "    return [HalfCodec, AcmePngCodec]",
        "HalfCodec does not implement backend, decode",
    ),
    "bad-name": (
        "class Bad(AcmePngCodec):\n        name = 'Bad Name'\n    return [Bad, AcmePngCodec]",
        "Bad.name is 'Bad Name'",
    ),
    "no-name": (
        "class Nameless(Codec):\n        quality = AcmePngCodec.quality\n"
        "        encode = AcmePngCodec.encode\n        decode = AcmePngCodec.decode\n"
        "        backend = AcmePngCodec.backend\n    return [Nameless, AcmePngCodec]",
        "Nameless.name is None",
    ),
    "quality-tuple": (
        "class Tuple(AcmePngCodec):\n        name = 'tuple-q'\n        quality = (1, 8)\n"
        "    return [Tuple, AcmePngCodec]",
        "Tuple.quality must be a lossybench.codec.QualityRange",
    ),
}


@pytest.mark.parametrize(("body", "expected"), MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_item_is_reported_and_skipped(site: Site, body: str, expected: str) -> None:
    site.acme(codec_module(hook=hook_source(body)))
    reg = load_registry()
    failure = only_failure(reg, "acme")
    assert failure.stage == "lossybench_codecs"
    assert failure.distribution == "acme-codec 1.0"
    assert expected in failure.error
    assert not {"nope", "half", "tuple-q", "Bad Name"} & set(reg.names("codecs"))
    assert "acme-png" in reg.names("codecs")
    assert "jpeg" in reg.names("codecs")


@pytest.mark.parametrize(
    "value", ["{'acme-png': AcmePngCodec}", "AcmePngCodec", "'acme-png'", "iter([AcmePngCodec])"]
)
def test_return_that_is_not_a_list_is_reported(site: Site, value: str) -> None:
    site.acme(codec_module(hook=hook_source(f"return {value}")))
    reg = load_registry()
    failure = only_failure(reg, "acme")
    assert failure.stage == "lossybench_codecs" and "not a list" in failure.error
    assert "acme-png" not in reg.names("codecs")
    assert "jpeg" in reg.names("codecs")


def test_hook_returning_none_registers_nothing_quietly(site: Site) -> None:
    site.acme(codec_module(hook="@hookimpl\ndef lossybench_codecs():\n    return None\n"))
    reg = load_registry()
    assert failures(reg, "acme") == [] and "acme" in reg.plugins
    assert "acme-png" not in reg.names("codecs")


# -- (f) hooks the contract does not have -------------------------------------------------
def test_unknown_hook_name_is_reported_at_register(site: Site) -> None:
    site.acme(codec_module(hook="@hookimpl\ndef lossybench_codec():\n    return [AcmePngCodec]\n"))
    reg = load_registry()
    failure = only_failure(reg, "acme")
    assert failure.stage == "register"
    assert failure.distribution == "acme-codec 1.0"
    assert "lossybench_codec" in failure.error and "lossybench_codecs" in failure.error
    assert "acme" not in reg.plugins
    assert "jpeg" in reg.names("codecs")


def test_optional_unknown_hook_is_accepted(site: Site) -> None:
    hook = GOOD_HOOK + "\n@hookimpl(optionalhook=True)\ndef lossybench_metrics():\n    return []\n"
    site.acme(codec_module(hook=hook))
    reg = load_registry()
    assert failures(reg, "acme") == []
    assert "acme-png" in reg.names("codecs")


def test_wrong_hook_arguments_are_reported_at_register(site: Site) -> None:
    hook = "@hookimpl\ndef lossybench_codecs(config):\n    return [AcmePngCodec]\n"
    site.acme(codec_module(hook=hook))
    reg = load_registry()
    failure = only_failure(reg, "acme")
    assert failure.stage == "register"
    assert "config" in failure.error
    assert "acme-png" not in reg.names("codecs")
    assert "jpeg" in reg.names("codecs")


# -- (g) name conflicts ---------------------------------------------------------------------
def test_two_plugins_with_one_codec_name_conflict(site: Site) -> None:
    site.acme()
    site.install(
        "other-codec", {"other": "other_codec"}, {"other_codec": codec_module()}, version="2.3"
    )
    reg = load_registry()
    assert "acme-png" not in reg.names("codecs")
    with pytest.raises(ConflictError) as info:
        reg.get("codecs", "acme-png")
    message = str(info.value)
    for part in (
        "'acme-png'",
        "'acme'",
        "acme-codec 1.0",
        "'other'",
        "other-codec 2.3",
        "--disable-plugin",
        DISABLE_ENV,
    ):
        assert part in message
    with pytest.raises(ConflictError):
        reg.codec("acme-png")
    conflict = only_failure(reg, "acme")
    assert conflict.stage == "conflict"
    assert conflict.plugin == "acme, other"  # registration order
    assert conflict.error == message
    assert "jpeg" in reg.names("codecs")


def test_conflict_with_a_built_in_name(site: Site) -> None:
    site.acme(codec_module("jpeg"))
    reg = load_registry()
    with pytest.raises(ConflictError) as info:
        reg.get("codecs", "jpeg")
    message = str(info.value)
    assert "plugin 'jpeg' (lossybench" in message
    assert "plugin 'acme' (acme-codec 1.0)" in message
    assert any(e.stage == "conflict" and "'jpeg'" in e.error for e in reg.errors)


def test_two_distributions_with_one_plugin_name(site: Site) -> None:
    site.acme()
    site.install("other-codec", {"acme": "other_codec"}, {"other_codec": codec_module("other")})
    reg = load_registry()
    failure = only_failure(reg, "acme")
    assert failure.stage == "load" and "already uses the plugin name 'acme'" in failure.error
    assert len({"acme-png", "other"} & set(reg.names("codecs"))) == 1


# -- (h) disabling --------------------------------------------------------------------------
def test_disable_by_environment(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    site.acme()
    monkeypatch.setenv(DISABLE_ENV, "nothing-by-this-name, acme")
    reg = load_registry()
    assert "acme-png" not in reg.names("codecs")
    assert "acme" not in reg.plugins and failures(reg, "acme") == []
    assert "acme" in reg.disabled
    assert "jpeg" in reg.names("codecs")


@pytest.mark.parametrize("name", ["acme", "acme-codec", "acme_codec", "Acme.Codec"])
def test_disable_by_plugin_or_distribution_name(site: Site, name: str) -> None:
    site.acme()
    reg = load_registry(disable=[name])
    assert "acme-png" not in reg.names("codecs") and "acme" not in reg.plugins
    assert "jpeg" in reg.names("codecs")


def test_disabled_plugin_is_never_imported(site: Site) -> None:
    site.acme("raise RuntimeError('must not run')")
    reg = load_registry(disable=["acme"])
    assert failures(reg, "acme") == []
    assert "acme_codec" not in sys.modules


def test_disabling_resolves_a_conflict(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    site.acme(codec_module("jpeg"))
    assert load_registry(disable=["acme"]).get("codecs", "jpeg").origin.plugin == "jpeg"
    assert load_registry(disable=["jpeg"]).get("codecs", "jpeg").origin.plugin == "acme"
    monkeypatch.setenv(DISABLE_ENV, "acme-codec")
    reg = load_registry()
    assert reg.get("codecs", "jpeg").origin.distribution == "lossybench"
    assert not any(e.stage == "conflict" and "'jpeg'" in e.error for e in reg.errors)


# -- (i) unknown names -----------------------------------------------------------------------
def test_unknown_codec_lists_what_is_available(site: Site) -> None:
    site.acme()
    reg = load_registry()
    with pytest.raises(UnknownNameError) as info:
        reg.get("codecs", "jpeg-2050")
    message = str(info.value)
    assert "unknown codec 'jpeg-2050'" in message
    assert "acme-png" in message and "jpeg" in message and "bench list" in message
    with pytest.raises(KeyError):  # UnknownNameError is also a KeyError
        reg.codec("jpeg-2050")


# -- the command line sees the same plugins ---------------------------------------------------
@pytest.mark.skipif(importlib.util.find_spec("lossybench.cli") is None, reason="no CLI yet")
def test_bench_list_shows_third_party_plugin_and_failures(site: Site, tmp_path: Path) -> None:
    site.acme()
    site.install("broken-codec", {"broken": "broken_codec"}, {"broken_codec": "1 / 0"})
    env = {"PYTHONPATH": str(tmp_path), "PYTHONDONTWRITEBYTECODE": "1", "PATH": "/usr/bin:/bin"}
    cmd = [sys.executable, "-m", "lossybench", "list", "--json"]
    data = json.loads(
        subprocess.run(cmd, env=env, capture_output=True, text=True, check=True, timeout=60).stdout
    )
    acme = next(c for c in data["codecs"] if c["name"] == "acme-png")
    assert (acme["plugin"], acme["distribution"], acme["version"]) == ("acme", "acme-codec", "1.0")
    broken = next(e for e in data["errors"] if e["plugin"] == "broken")
    assert broken["stage"] == "import" and "ZeroDivisionError" in broken["error"]

    cmd[3:3] = ["--disable-plugin", "acme"]
    data = json.loads(
        subprocess.run(cmd, env=env, capture_output=True, text=True, check=True, timeout=60).stdout
    )
    assert "acme-png" not in [c["name"] for c in data["codecs"]]
    assert "acme" in data["disabled"]


# -- (j) the contract itself -------------------------------------------------------------------
def test_markers_belong_to_the_lossybench_project() -> None:
    assert markers.PROJECT == markers.ENTRY_POINT_GROUP == "lossybench"
    assert isinstance(markers.hookspec, pluggy.HookspecMarker)
    assert isinstance(markers.hookimpl, pluggy.HookimplMarker)
    assert markers.hookspec.project_name == "lossybench"
    assert markers.hookimpl.project_name == "lossybench"
    assert lossybench.hookimpl is markers.hookimpl and lossybench.hookspec is markers.hookspec


def test_every_hook_is_a_documented_spec() -> None:
    hooks = {
        name: fn
        for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
        if name.startswith("lossybench_")
    }
    assert {f"lossybench_{kind}" for kind in KINDS} <= set(hooks)
    for name, fn in hooks.items():
        assert hasattr(fn, "lossybench_spec"), f"{name} is not marked with @hookspec"
        assert inspect.signature(fn).parameters == {}, f"{name} must take no arguments"
        doc = inspect.getdoc(fn) or ""
        assert len(doc.split()) >= 10, f"{name} needs a docstring"
    assert "entry-point" in (hookspecs.__doc__ or "")


# -- (k) the installed package layout ------------------------------------------------------------
def test_subpackages_import_under_lossybench() -> None:
    plugins = importlib.import_module("lossybench.plugins")
    leaderboard = importlib.import_module("lossybench.leaderboard")
    codecs = importlib.import_module("lossybench.plugins.codecs")
    assert Path(plugins.__file__ or "").parent.name == "plugins"
    assert Path(leaderboard.__file__ or "").parent.name == "leaderboard"
    assert Path(codecs.__file__ or "").parent.parent.name == "plugins"
    assert issubclass(importlib.import_module("lossybench.plugins.codecs.jpeg").JpegCodec, Codec)
    assert isinstance(lossybench.__version__, str)


def test_only_lossybench_is_installed_at_top_level(monkeypatch: pytest.MonkeyPatch) -> None:
    # ``python -m pytest`` puts the source tree on sys.path, and with it the
    # ``lossybench.egg-info`` that setuptools leaves there: look past both.
    kept = [p for p in sys.path if Path(p or ".").resolve() != ROOT]
    dist = next(iter(distributions(name="lossybench", path=kept)))
    assert Path(str(dist.locate_file(""))).resolve() != ROOT
    top_level = (dist.read_text("top_level.txt") or "lossybench").split()
    assert top_level == ["lossybench"]

    files = dist.files or []
    tops = {
        f.parts[0]
        for f in files
        if f.parts and f.parts[0] != ".." and not f.parts[0].endswith((".dist-info", "__pycache__"))
    }
    assert not tops & {"core", "plugins", "leaderboard", "tests"}, tops
    # An editable install maps import names to source folders: only lossybench.* may appear.
    for f in files:
        if f.name.startswith("__editable__") and f.name.endswith("_finder.py"):
            finder = sys.modules.get(f.stem) or importlib.import_module(f.stem)
            mapping: dict[str, str] = finder.MAPPING
            assert set(mapping) <= {"lossybench", "lossybench.plugins", "lossybench.leaderboard"}
            assert Path(mapping["lossybench"]).resolve() == ROOT / "core"

    # With the source tree off sys.path, no ``core``/``plugins`` package of ours is importable.
    installed = {str(Path(str(dist.locate_file(f))).resolve()) for f in files}
    monkeypatch.setattr(sys, "path", kept)
    for name in ("core", "plugins", "leaderboard"):
        monkeypatch.delitem(sys.modules, name, raising=False)
        importlib.invalidate_caches()
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.origin:
            origin = Path(spec.origin).resolve()
            assert not origin.is_relative_to(ROOT / name), f"{name} leaks from the source tree"
            assert str(origin) not in installed, f"{name} is installed by lossybench: {origin}"
