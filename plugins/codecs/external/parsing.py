"""Reading and strictly validating an external codec's TOML definition file.

Why strict: the file is the user's whole interface to the plugin, and a typo in an
optional key would silently change behaviour (a misspelt ``higher_is_better`` flips
the knob and rate control searches the wrong way). Every problem is raised as a
:class:`DefinitionError` naming the file and the key, so one bad file can be skipped
and reported without hiding the others.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import os
import re
import string
import tomllib
from pathlib import Path
from typing import Any

from lossybench.codec import QualityRange
from lossybench.plugins.codecs.external.definition import Definition, DefinitionError
from lossybench.plugins.codecs.external.pixels import DECODED_SUFFIXES, INPUT_SUFFIXES

DEFAULT_TIMEOUT = 120.0
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._+-]*$")

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

