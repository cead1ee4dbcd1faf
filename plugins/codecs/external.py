"""Codecs that are external programs (VTM, BPG, cjpeg, ...), defined by TOML files.

Why: reference encoders are command-line binaries, and a user should be able to
benchmark one by describing how to call it, without writing Python. Each definition
file becomes one :class:`ExternalCodec` subclass, so the registry sees an ordinary
codec with a name and a :class:`~lossybench.codec.QualityRange`.

Definitions are read from, in this order (the first definition of a name wins):

1. every ``*.toml`` in the directories (or the files) listed in
   ``$LOSSYBENCH_EXTERNAL_CODECS`` (``os.pathsep``-separated);
2. ``<user config dir>/lossybench/codecs/*.toml`` (``platformdirs.user_config_dir``);
3. the built-in definitions in ``external_codecs/*.toml`` next to this module.

User definitions are always registered, so a missing program is reported when the
codec is used, with its install hint. A built-in definition is registered only when
its programs are installed, so ``bench list`` shows only what works. A broken file
never stops the others: it is skipped and described by :func:`definition_errors`.
See docs/external-codecs.md for the file format.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import math
import os
import re
import shlex
import shutil
import signal
import string
import subprocess
import tempfile
import tomllib
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from lossybench import hookimpl
from lossybench.codec import Backend, Codec, QualityRange, log_interp
from lossybench.errors import CodecError, ImageError, LossybenchError
from lossybench.image import IMAGE_SUFFIXES, load_image

ENV_VAR = "LOSSYBENCH_EXTERNAL_CODECS"
BUILTIN_DIR = Path(__file__).with_name("external_codecs")
DEFAULT_TIMEOUT = 120.0
#: Seconds the ``version`` command may take: it runs for provenance, not for work.
VERSION_TIMEOUT = 10.0
#: Characters of a failing tool's output quoted in the error.
TAIL_CHARS = 1500
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._+-]*$")

#: Formats the tool writes for the encoder: Pillow formats by suffix, plus raw planes.
PILLOW_WRITE = {
    ".png": "PNG",
    ".ppm": "PPM",
    ".pnm": "PPM",
    ".bmp": "BMP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
}
RAW_SUFFIXES = (".rgb", ".yuv")
INPUT_SUFFIXES = (*PILLOW_WRITE, *RAW_SUFFIXES)
DECODED_SUFFIXES = tuple(sorted({*IMAGE_SUFFIXES, ".pnm", *RAW_SUFFIXES}))

#: Placeholders each command may use; ``toml_dir`` is the definition file's folder.
ENCODE_FIELDS = frozenset({"input", "output", "quality", "width", "height", "toml_dir"})
DECODE_FIELDS = frozenset({"input", "output", "width", "height", "toml_dir"})
VERSION_FIELDS = frozenset({"toml_dir"})
REQUIRED_ENCODE = ("input", "output", "quality")
REQUIRED_DECODE = ("input", "output")

TOP_KEYS = {
    "name",
    "description",
    "encode",
    "decode",
    "input_suffix",
    "bitstream_suffix",
    "decoded_suffix",
    "version",
    "install_hint",
    "timeout",
    "quality",
    "rate_prior",
}
REQUIRED_TOP = ("name", "encode", "decode", "quality")
QUALITY_KEYS = {
    "min",
    "max",
    "kind",
    "step",
    "higher_is_better",
    "default",
    "name",
    "resolution",
    "log_scale",
}
REQUIRED_QUALITY = ("min", "max")

#: BT.709 full-range luma weights, as CompressAI's VTM bench uses for its YUV files.
KR, KB = 0.2126, 0.0722
KG = 1.0 - KR - KB


class DefinitionError(LossybenchError):
    """A codec definition file that cannot be used; the message names file and key."""


@dataclass(frozen=True)
class Definition:
    """One parsed, validated TOML file: hashable so it can key the class cache."""

    path: Path
    name: str
    description: str
    encode: tuple[str, ...]
    decode: tuple[str, ...]
    input_suffix: str
    bitstream_suffix: str
    decoded_suffix: str
    version: tuple[str, ...] | None
    install_hint: str
    timeout: float
    quality: QualityRange
    builtin: bool = False
    #: ``(setting, typical bpp)`` knots in ascending setting order, or None.
    rate_prior: tuple[tuple[float, float], ...] | None = None

    @property
    def programs(self) -> tuple[str, ...]:
        """The encoder and decoder programs, as written after ``{toml_dir}`` and ``~``."""
        out: list[str] = []
        for argv in (self.encode, self.decode):
            prog = program_path(argv[0], self.path)
            if prog not in out:
                out.append(prog)
        return tuple(out)


# -- parsing and validation -----------------------------------------------------------
def _fail(path: Path, key: str, problem: str) -> DefinitionError:
    return DefinitionError(f"{path}: {key}: {problem}")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _placeholders(arg: str) -> set[str]:
    """Field names used in one argument (``{{`` and ``}}`` are literal braces)."""
    names: set[str] = set()
    for _, field_name, spec, conv in string.Formatter().parse(arg):
        if field_name is None:
            continue
        if field_name == "" or spec or conv or not field_name.isidentifier():
            raise ValueError(f"{{{field_name}}} is not a plain placeholder such as {{input}}")
        names.add(field_name)
    return names


def _braced(names: list[str]) -> str:
    return ", ".join("{" + n + "}" for n in names)


def _command(
    path: Path, data: dict[str, Any], key: str, allowed: frozenset[str], required: tuple[str, ...]
) -> tuple[str, ...]:
    value = data[key]
    if not isinstance(value, list) or not value or not all(isinstance(a, str) for a in value):
        raise _fail(
            path,
            key,
            "must be a non-empty list of strings (argv, no shell), e.g. "
            '["prog", "-o", "{output}", "{input}"]',
        )
    if not value[0].strip():
        raise _fail(path, key, "the program name (first item) is empty")
    used: set[str] = set()
    for arg in value:
        try:
            used |= _placeholders(arg)
        except ValueError as exc:
            raise _fail(path, key, f"argument {arg!r}: {exc}") from None
    head = _placeholders(value[0])
    if head - {"toml_dir"}:
        raise _fail(path, key, "the program name (first item) may use only {toml_dir}")
    unknown = sorted(used - allowed)
    if unknown:
        raise _fail(
            path,
            key,
            f"unknown placeholder(s) {_braced(unknown)}; allowed: {_braced(sorted(allowed))}",
        )
    missing = [r for r in required if r not in used]
    if missing:
        raise _fail(path, key, f"missing placeholder(s) {_braced(missing)}")
    return tuple(value)


def _suffix(
    path: Path, data: dict[str, Any], key: str, default: str, allowed: tuple[str, ...] | None
) -> str:
    value = data.get(key, default)
    if not isinstance(value, str) or not re.fullmatch(r"\.[A-Za-z0-9._-]+", value):
        raise _fail(path, key, f"must be a file suffix such as '.png', not {value!r}")
    if allowed is not None and value.lower() not in allowed:
        raise _fail(path, key, f"{value!r} is not supported; use one of {', '.join(allowed)}")
    return value


def _quality(path: Path, raw: Any) -> QualityRange:
    if not isinstance(raw, dict):
        raise _fail(path, "quality", "must be a table: [quality] with min, max, ...")
    unknown = sorted(set(raw) - QUALITY_KEYS)
    if unknown:
        raise _fail(
            path,
            f"quality.{unknown[0]}",
            f"unknown key; allowed: {', '.join(sorted(QUALITY_KEYS))}",
        )
    for key in REQUIRED_QUALITY:
        if key not in raw:
            raise _fail(path, f"quality.{key}", "missing (required)")
    for key in ("min", "max", "step", "default", "resolution"):
        if key in raw and not (_is_number(raw[key]) and math.isfinite(raw[key])):
            raise _fail(path, f"quality.{key}", f"must be a finite number, not {raw[key]!r}")
    for key in ("higher_is_better", "log_scale"):
        if key in raw and not isinstance(raw[key], bool):
            raise _fail(path, f"quality.{key}", f"must be true or false, not {raw[key]!r}")
    for key in ("kind", "name"):
        if key in raw and not isinstance(raw[key], str):
            raise _fail(path, f"quality.{key}", f"must be a string, not {raw[key]!r}")
    kind = raw.get("kind", "discrete")
    if kind not in ("discrete", "continuous"):
        raise _fail(path, "quality.kind", f"must be 'discrete' or 'continuous', not {kind!r}")
    lo, hi = float(raw["min"]), float(raw["max"])
    if lo >= hi:
        raise _fail(path, "quality.min", f"min {lo:g} must be below max {hi:g}")
    for key in ("step", "resolution"):
        if key in raw and raw[key] <= 0:
            raise _fail(path, f"quality.{key}", f"must be positive, not {raw[key]!r}")
    step = float(raw.get("step", 1))
    if kind == "discrete":
        n = (hi - lo) / step
        if abs(n - round(n)) > 1e-9:
            raise _fail(path, "quality.step", f"{step:g} does not divide max - min = {hi - lo:g}")
    if raw.get("log_scale", False) and lo <= 0:
        raise _fail(path, "quality.log_scale", "a log-scale knob needs min > 0")
    try:
        q = QualityRange(
            lo,
            hi,
            kind=kind,
            higher_is_better=raw.get("higher_is_better", True),
            step=step,
            resolution=float(raw.get("resolution", 0.01)),
            name=raw.get("name", "quality"),
            log_scale=raw.get("log_scale", False),
        )
    except ValueError as exc:
        raise _fail(path, "quality", str(exc)) from None
    if "default" in raw:
        try:
            default = q.validate(raw["default"])
        except ValueError as exc:  # OutOfRangeError is a ValueError
            raise _fail(path, "quality.default", str(exc)) from None
        q = dataclasses.replace(q, default=default)
    return q


def _rate_prior(path: Path, raw: Any, q: QualityRange) -> tuple[tuple[float, float], ...]:
    """``[rate_prior]``: setting → typical bpp, strictly growing in the knob's better direction."""
    example = '[rate_prior] with setting = bpp entries, e.g. 50 = 0.8 and 90 = 2.1'
    if not isinstance(raw, dict):
        raise _fail(path, "rate_prior", f"must be a table: {example}")
    if len(raw) < 2:
        raise _fail(path, "rate_prior", f"needs at least two settings: {example}")
    knots: dict[float, float] = {}
    for key, bpp in raw.items():
        where = f"rate_prior.{key}"
        try:
            setting = float(key)
        except ValueError:
            raise _fail(
                path, where, f"{key!r} is not a {q.name} setting (keys are numbers; quote "
                'fractional ones: "0.5" = 3.2)'
            ) from None
        try:
            setting = q.validate(setting)
        except ValueError as exc:  # OutOfRangeError is a ValueError
            raise _fail(path, where, f"unknown setting: {exc}") from None
        if setting in knots:
            raise _fail(path, where, f"{q.name} {setting:g} is given twice")
        if not (_is_number(bpp) and math.isfinite(bpp) and bpp > 0):
            raise _fail(path, where, f"must be a positive number of bits per pixel, not {bpp!r}")
        knots[setting] = float(bpp)
    table = tuple(sorted(knots.items()))
    arrow = "higher" if q.higher_is_better else "lower"
    for (q0, b0), (q1, b1) in itertools.pairwise(table):
        if not (b1 > b0 if q.higher_is_better else b1 < b0):
            raise _fail(
                path,
                "rate_prior",
                f"not monotone: bpp must grow with {arrow} {q.name} (the knob's better "
                f"direction), but {q0:g} = {b0:g} and {q1:g} = {b1:g}",
            )
    return table


def parse_definition(path: str | os.PathLike[str], builtin: bool = False) -> Definition:
    """Read and strictly validate one definition file; raise :class:`DefinitionError`.

    Strict because a typo in an optional key (``higher_is_beter``) would otherwise
    silently flip the knob's direction and make rate control search the wrong way.
    """
    path = Path(path)
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise DefinitionError(f"{path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise DefinitionError(f"{path}: cannot read: {exc.strerror or exc}") from None
    unknown = sorted(set(data) - TOP_KEYS)
    if unknown:
        raise _fail(path, unknown[0], f"unknown key; allowed: {', '.join(sorted(TOP_KEYS))}")
    for key in REQUIRED_TOP:
        if key not in data:
            raise _fail(path, key, "missing (required)")
    name = data["name"]
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise _fail(path, "name", f"{name!r} must be a lower-case identifier such as 'my-codec'")
    for key in ("description", "install_hint"):
        if key in data and not isinstance(data[key], str):
            raise _fail(path, key, f"must be a string, not {data[key]!r}")
    encode = _command(path, data, "encode", ENCODE_FIELDS, REQUIRED_ENCODE)
    decode = _command(path, data, "decode", DECODE_FIELDS, REQUIRED_DECODE)
    version = _command(path, data, "version", VERSION_FIELDS, ()) if "version" in data else None
    timeout = data.get("timeout", DEFAULT_TIMEOUT)
    if not _is_number(timeout) or not math.isfinite(timeout) or timeout <= 0:
        raise _fail(path, "timeout", f"must be a positive number of seconds, not {timeout!r}")
    quality = _quality(path, data["quality"])
    prior = _rate_prior(path, data["rate_prior"], quality) if "rate_prior" in data else None
    description = data.get("description") or (
        f"external programs {Path(encode[0]).name} / {Path(decode[0]).name} ({path.name})"
    )
    return Definition(
        path=path.resolve(),
        name=name,
        description=description,
        encode=encode,
        decode=decode,
        input_suffix=_suffix(path, data, "input_suffix", ".png", INPUT_SUFFIXES),
        bitstream_suffix=_suffix(path, data, "bitstream_suffix", ".bin", None),
        decoded_suffix=_suffix(path, data, "decoded_suffix", ".png", DECODED_SUFFIXES),
        version=version,
        install_hint=data.get("install_hint", ""),
        timeout=float(timeout),
        quality=quality,
        builtin=builtin,
        rate_prior=prior,
    )


# -- running programs ---------------------------------------------------------------------
def program_path(arg0: str, toml: Path) -> str:
    """The program as given: ``{toml_dir}`` filled and ``~`` expanded."""
    return os.path.expanduser(arg0.format(toml_dir=str(toml.parent)))


def format_quality(q: QualityRange, value: float) -> str:
    """An int for integer-stepped discrete knobs (tools reject ``75.0``), else ``%g``-like."""
    integral = float(q.step).is_integer() and float(q.minimum).is_integer()
    if q.kind == "discrete" and integral:
        return str(round(value))
    return f"{value:.10g}"


def missing_program_message(d: Definition, program: str) -> str:
    hint = d.install_hint or f"install it, or give its full path in {d.path}"
    return (
        f"{d.name}: program {program!r} is not installed or not on PATH "
        f"(needed by {d.path}); {hint}"
    )


def _tail(data: bytes) -> str:
    text = data.decode("utf-8", errors="replace").strip()
    if len(text) > TAIL_CHARS:
        text = "..." + text[-TAIL_CHARS:]
    return text


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Kill the whole process group: a wrapper script's children must not outlive it."""
    killpg = getattr(os, "killpg", None)  # POSIX only
    try:
        if killpg is None:
            raise ProcessLookupError
        killpg(proc.pid, getattr(signal, "SIGKILL", signal.SIGTERM))
    except (ProcessLookupError, PermissionError):
        proc.kill()


def run_command(
    d: Definition,
    template: tuple[str, ...],
    values: dict[str, str],
    cwd: str,
    stage: str,
    timeout: float | None = None,
    check: bool = True,
    merge: bool = False,
) -> tuple[bytes, bytes]:
    """Run one command (no shell) or raise :class:`CodecError` saying what to fix.

    ``check=False`` keeps the output of a non-zero exit: many tools print their
    version from ``-h`` and then exit 1. ``merge`` sends stderr into stdout so that
    the lines keep the order in which the tool wrote them.
    """
    values = {**values, "toml_dir": str(d.path.parent)}
    argv = [arg.format(**values) for arg in template]
    argv[0] = os.path.expanduser(argv[0])
    shown = shlex.join(argv)
    exe = shutil.which(argv[0])
    if exe is None:
        raise CodecError(missing_program_message(d, argv[0]))
    limit = d.timeout if timeout is None else timeout
    try:
        proc = subprocess.Popen(
            [exe, *argv[1:]],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if merge else subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:
        raise CodecError(f"{d.name}: cannot run {stage} command {shown}: {exc}") from exc
    with proc:
        try:
            out, err = proc.communicate(timeout=limit)
            err = err or b""
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            proc.communicate()
            raise CodecError(
                f"{d.name}: {stage} command timed out after {limit:g} s: {shown} "
                f"(raise 'timeout' in {d.path})"
            ) from None
        except BaseException:
            _kill_group(proc)
            raise
    if check and proc.returncode != 0:
        how = (
            f"was killed by signal {-proc.returncode}"
            if proc.returncode < 0
            else f"failed with exit status {proc.returncode}"
        )
        tail = _tail(err) or _tail(out) or "(no output)"
        raise CodecError(f"{d.name}: {stage} command {how}: {shown}\n{tail}")
    return out, err


# -- files the programs read and write ---------------------------------------------------
def rgb_to_ycbcr(image: np.ndarray) -> np.ndarray:
    """8-bit RGB to planar-ready 8-bit YCbCr, BT.709 full range (CompressAI's choice)."""
    rgb = image.astype(np.float64)
    y = KR * rgb[..., 0] + KG * rgb[..., 1] + KB * rgb[..., 2]
    cb = (rgb[..., 2] - y) / (2 * (1 - KB)) + 128.0
    cr = (rgb[..., 0] - y) / (2 * (1 - KR)) + 128.0
    return np.clip(np.rint(np.stack([y, cb, cr], axis=-1)), 0, 255).astype(np.uint8)


def ycbcr_to_rgb(ycc: np.ndarray) -> np.ndarray:
    """Inverse of :func:`rgb_to_ycbcr`."""
    y, cb, cr = (ycc[..., i].astype(np.float64) for i in range(3))
    r = y + 2 * (1 - KR) * (cr - 128.0)
    b = y + 2 * (1 - KB) * (cb - 128.0)
    g = (y - KR * r - KB * b) / KG
    return np.clip(np.rint(np.stack([r, g, b], axis=-1)), 0, 255).astype(np.uint8)


def write_input(path: Path, image: np.ndarray) -> None:
    """Write the original for the encoder, in the format its suffix names."""
    suffix = path.suffix.lower()
    if suffix == ".rgb":
        path.write_bytes(np.ascontiguousarray(image.transpose(2, 0, 1)).tobytes())
    elif suffix == ".yuv":
        path.write_bytes(np.ascontiguousarray(rgb_to_ycbcr(image).transpose(2, 0, 1)).tobytes())
    else:
        params: dict[str, Any] = {"compress_level": 1} if suffix == ".png" else {}
        Image.fromarray(np.ascontiguousarray(image), "RGB").save(
            path, format=PILLOW_WRITE[suffix], **params
        )


def read_decoded(path: Path, name: str, size: tuple[int, int] | None) -> np.ndarray:
    """Read the decoder's output; raw planes need the (height, width) from the encode."""
    suffix = path.suffix.lower()
    if suffix not in RAW_SUFFIXES:
        try:
            return load_image(path)
        except ImageError as exc:
            raise CodecError(f"{name}: cannot read the decoded image: {exc}") from exc
    if size is None:
        raise CodecError(
            f"{name}: a raw {suffix} output has no size in it, and this bitstream was not "
            "encoded by this codec instance; decode it with the instance that encoded it"
        )
    h, w = size
    data = path.read_bytes()
    if len(data) != 3 * h * w:
        hint = (
            " (16-bit samples? ask the decoder for 8-bit output, e.g. VTM's -d 8)"
            if len(data) == 6 * h * w
            else ""
        )
        raise CodecError(
            f"{name}: decoded {suffix} file has {len(data)} bytes, expected {3 * h * w} for "
            f"{w}x{h} 8-bit 4:4:4 planar{hint}"
        )
    planes = np.frombuffer(data, dtype=np.uint8).reshape(3, h, w).transpose(1, 2, 0)
    return ycbcr_to_rgb(planes) if suffix == ".yuv" else np.ascontiguousarray(planes)


# -- the codec ----------------------------------------------------------------------------
class ExternalCodec(Codec):
    """Base of the generated classes; ``definition`` says which programs to run."""

    definition: ClassVar[Definition]
    #: Bitstreams whose image size this instance remembers (raw outputs need it).
    SIZE_MEMORY: ClassVar[int] = 1024

    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)
        self._sizes: OrderedDict[bytes, tuple[int, int]] = OrderedDict()

    def __reduce__(self) -> tuple[Any, ...]:
        # The class is made at run time and cannot be found by name: carry the parsed
        # definition so a worker rebuilds the same class without reading the file.
        return (_rebuild, (self.definition, dict(self.settings)))

    @classmethod
    def check_available(cls) -> None:
        for prog in cls.definition.programs:
            if shutil.which(prog) is None:
                raise CodecError(missing_program_message(cls.definition, prog))

    @classmethod
    def backend(cls) -> Backend:
        d = cls.definition
        version = _version_line(d)
        return Backend(Path(d.programs[0]).name, version, f"external program ({d.path.name})")

    def rate_prior(self, quality: float) -> float | None:
        knots = self.definition.rate_prior
        if knots is None:
            return None
        return log_interp(knots, quality, log_quality=self.quality.log_scale)

    def identity(self) -> dict[str, Any]:
        # The command lines change the bits as much as the program version does.
        out = super().identity()
        out["commands"] = {
            "encode": list(self.definition.encode),
            "decode": list(self.definition.decode),
        }
        return out

    def encode(self, image: np.ndarray, quality: float) -> bytes:
        d = self.definition
        image = np.asarray(image)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise CodecError(f"{d.name}: expects (H, W, 3) uint8, got {image.dtype} {image.shape}")
        q = self.quality.validate(quality)
        h, w = image.shape[:2]
        with tempfile.TemporaryDirectory(prefix=f"lossybench-{d.name}-") as tmp:
            src = Path(tmp) / f"input{d.input_suffix}"
            dst = Path(tmp) / f"bitstream{d.bitstream_suffix}"
            write_input(src, image)
            values = {
                "input": str(src),
                "output": str(dst),
                "quality": format_quality(self.quality, q),
                "width": str(w),
                "height": str(h),
            }
            run_command(d, d.encode, values, tmp, "encode")
            if not dst.is_file():
                raise CodecError(
                    f"{d.name}: the encode command wrote no {dst.name} "
                    f"(does it use {{output}}?): {shlex.join(d.encode)}"
                )
            bits = dst.read_bytes()
        if not bits:
            raise CodecError(
                f"{d.name}: the encoder wrote an empty bitstream at {self.quality.name} {q:g}"
            )
        self._remember(bits, (h, w))
        return bits

    def decode(self, bitstream: bytes) -> np.ndarray:
        d = self.definition
        size = self._sizes.get(_digest(bitstream))
        needs_size = any(f in _placeholders(a) for a in d.decode for f in ("width", "height"))
        if needs_size and size is None:
            raise CodecError(
                f"{d.name}: the decode command needs {{width}}/{{height}}, which only "
                "the instance that encoded this bitstream knows"
            )
        with tempfile.TemporaryDirectory(prefix=f"lossybench-{d.name}-") as tmp:
            src = Path(tmp) / f"bitstream{d.bitstream_suffix}"
            dst = Path(tmp) / f"decoded{d.decoded_suffix}"
            src.write_bytes(bitstream)
            h, w = size if size is not None else (0, 0)
            values = {"input": str(src), "output": str(dst), "width": str(w), "height": str(h)}
            run_command(d, d.decode, values, tmp, "decode")
            if not dst.is_file():
                raise CodecError(
                    f"{d.name}: the decode command wrote no {dst.name} "
                    f"(does it use {{output}}?): {shlex.join(d.decode)}"
                )
            out = read_decoded(dst, d.name, size)
        if size is not None and out.shape[:2] != size:
            raise CodecError(
                f"{d.name}: decoded image is {out.shape[1]}x{out.shape[0]}, "
                f"the original was {size[1]}x{size[0]}"
            )
        return out

    def _remember(self, bits: bytes, size: tuple[int, int]) -> None:
        key = _digest(bits)
        self._sizes[key] = size
        self._sizes.move_to_end(key)
        while len(self._sizes) > self.SIZE_MEMORY:
            self._sizes.popitem(last=False)


def _digest(bits: bytes) -> bytes:
    return hashlib.blake2b(bits, digest_size=16).digest()


_versions: dict[Definition, str] = {}


def _version_line(d: Definition) -> str:
    """First non-empty line of the version command's output (any exit status); cached."""
    if d not in _versions:
        line = "?"
        if d.version is not None:
            try:
                with tempfile.TemporaryDirectory(prefix="lossybench-version-") as tmp:
                    out, _ = run_command(
                        d, d.version, {}, tmp, "version", VERSION_TIMEOUT, check=False, merge=True
                    )
            except CodecError:
                out = b""
            text = out.decode("utf-8", errors="replace")
            line = next((s.strip() for s in text.splitlines() if s.strip()), "?")
        _versions[d] = line
    return _versions[d]


_classes: dict[Definition, type[ExternalCodec]] = {}


def codec_class(d: Definition) -> type[ExternalCodec]:
    """The codec class of a definition: one per definition, so identity is stable."""
    cls = _classes.get(d)
    if cls is None:
        ident = re.sub(r"\W", "_", d.name)
        cls = type(
            f"External_{ident}",
            (ExternalCodec,),
            {
                "__module__": __name__,
                "__doc__": f"{d.description} (defined in {d.path}).",
                "name": d.name,
                "description": d.description,
                "quality": d.quality,
                "suffix": d.bitstream_suffix,
                "definition": d,
            },
        )
        _classes[d] = cls
    return cls


def _rebuild(d: Definition, settings: dict[str, Any]) -> ExternalCodec:
    return codec_class(d)(**settings)


# -- discovery ------------------------------------------------------------------------------
def user_codec_dir() -> Path:
    """``~/.config/lossybench/codecs`` on Linux (platformdirs' user config dir)."""
    import platformdirs

    return Path(platformdirs.user_config_dir("lossybench")) / "codecs"


def _sources() -> tuple[list[Path], list[str]]:
    """User definition files in precedence order, and problems with the listed paths."""
    files: list[Path] = []
    problems: list[str] = []
    for entry in os.environ.get(ENV_VAR, "").split(os.pathsep):
        if not entry.strip():
            continue
        p = Path(entry.strip()).expanduser()
        if p.is_dir():
            files.extend(sorted(p.glob("*.toml")))
        elif p.is_file():
            files.append(p)
        else:
            problems.append(f"{ENV_VAR} lists {entry!r}, which is not a file or directory")
    config = user_codec_dir()
    if config.is_dir():
        files.extend(sorted(config.glob("*.toml")))
    return files, problems


_errors: list[str] | None = None


def load_definitions() -> list[type[ExternalCodec]]:
    """Scan every source again; return the usable classes and record the bad files.

    Never raises: the registry would count an exception as the failure of this whole
    plugin, hiding every good definition because of one bad file.
    """
    global _errors
    errors: list[str] = []
    classes: list[type[ExternalCodec]] = []
    taken: dict[str, Path] = {}
    try:
        user_files, errors_paths = _sources()
        errors.extend(errors_paths)
    except Exception as exc:  # e.g. an unreadable config directory
        user_files = []
        errors.append(f"cannot list external codec definitions: {type(exc).__name__}: {exc}")
    builtin_files = sorted(BUILTIN_DIR.glob("*.toml")) if BUILTIN_DIR.is_dir() else []
    seen: set[Path] = set()
    for path, builtin in [(p, False) for p in user_files] + [(p, True) for p in builtin_files]:
        key = path.resolve()
        if key in seen:  # listed twice (env var and config dir): not a conflict
            continue
        seen.add(key)
        try:
            d = parse_definition(path, builtin=builtin)
        except DefinitionError as exc:
            errors.append(str(exc))
            continue
        except Exception as exc:
            errors.append(f"{path}: {type(exc).__name__}: {exc}")
            continue
        if d.name in taken:
            if not builtin:  # a user file overriding a built-in one is intended
                errors.append(
                    f"{path}: name: codec {d.name!r} is already defined by "
                    f"{taken[d.name]}; this file is ignored"
                )
            continue
        if builtin and any(shutil.which(p) is None for p in d.programs):
            continue  # not installed: keep `bench list` to what works
        taken[d.name] = path
        classes.append(codec_class(d))
    _errors = errors
    return classes


def definition_errors() -> list[str]:
    """Why each skipped definition file was skipped (from the latest scan)."""
    if _errors is None:
        load_definitions()
    return list(_errors or [])


@hookimpl
def lossybench_codecs() -> list[type[Codec]]:
    return list(load_definitions())


@hookimpl(optionalhook=True)
def lossybench_diagnostics() -> list[str]:
    """The skipped definition files, for ``bench list`` (runs after the codecs hook)."""
    return definition_errors()
