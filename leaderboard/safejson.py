"""Reading untrusted JSON: size cap, nesting cap, duplicate keys, non-finite numbers.

The standard library parser accepts ``NaN``/``Infinity``, turns ``1e999`` into
infinity, silently keeps the last of two duplicate keys, recurses without limit and
reads whatever a path points at (a FIFO, ``/dev/zero``). A submission must not be able
to use any of that, so every problem is reported with the JSON path where it occurs.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lossybench.engine.results import UNSAFE_CHARS

#: Defaults; every one can be changed on the command line.
MAX_RESULT_BYTES = 5 * 1024 * 1024
MAX_RECORDS_BYTES = 200 * 1024 * 1024
MAX_LINE_BYTES = 1024 * 1024
MAX_DEPTH = 64
#: Integers beyond this are absurd in a result and would overflow floats downstream.
MAX_ABS_INT = 2**63

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKETS = bytes(c for c in range(256) if c not in b"[]{}")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: what a result's strings may not hold (lossybench.engine.results), escaped in messages
_UNSAFE_CHARS = re.compile(UNSAFE_CHARS)


class UnsafeInput(Exception):
    """The input cannot be parsed safely; ``path`` is a JSON path ("$" = the document)."""

    def __init__(self, message: str, path: str = "$") -> None:
        super().__init__(message)
        self.path = path
        self.message = message


@dataclass(frozen=True)
class Limits:
    """Caps applied before and while parsing (bytes and nesting levels)."""

    max_bytes: int = MAX_RESULT_BYTES
    max_records_bytes: int = MAX_RECORDS_BYTES
    max_line_bytes: int = MAX_LINE_BYTES
    max_depth: int = MAX_DEPTH


def _escape(c: str) -> str:
    return f"\\u{ord(c):04x}" if ord(c) <= 0xFFFF else f"\\U{ord(c):08x}"


def clean_text(text: object, limit: int = 300) -> str:
    """A string safe for a terminal line: control and bidi characters escaped, truncated.

    Messages quote submitted strings; without this a submission could rewrite the
    terminal (ANSI escapes) or reorder what the admin reads (bidi overrides).
    """
    s = str(text)
    s = _UNSAFE_CHARS.sub(lambda m: _escape(m.group()), s)
    s = "".join(
        c if unicodedata.category(c) != "Cs" else f"\\u{ord(c):04x}" for c in s
    )
    return s if len(s) <= limit else s[: limit - 1] + "…"


def json_path(parts: tuple[str | int, ...] | list[str | int]) -> str:
    """``$.codecs[0].points[2].bpp_mean`` from path parts."""
    out = "$"
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        elif _IDENT.match(p):
            out += f".{p}"
        else:
            out += "[" + json.dumps(clean_text(p, 80)) + "]"
    return out


def read_capped(path: Path, cap: int, what: str = "file", option: str = "--max-bytes") -> bytes:
    """The bytes of a regular file of at most ``cap`` bytes, checked before reading it."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise UnsafeInput(f"cannot read {what}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        raise UnsafeInput(f"{what} is not a regular file")
    if st.st_size > cap:
        raise UnsafeInput(
            f"{what} is {st.st_size} bytes, over the cap of {cap} bytes "
            f"(the board admin can raise it with {option})"
        )
    with open(path, "rb") as f:
        data = f.read(cap + 1)
    if len(data) > cap:  # grew while we looked
        raise UnsafeInput(f"{what} is over the cap of {cap} bytes")
    return data


def nesting_depth(data: bytes) -> int:
    """Deepest bracket nesting outside strings, found without parsing (no recursion)."""
    import numpy as np

    br = _STRING.sub(b'""', data).translate(None, _BRACKETS)
    if not br:
        return 0
    arr = np.frombuffer(br, dtype=np.uint8)
    steps = np.where((arr == ord("[")) | (arr == ord("{")), 1, -1)
    return int(np.cumsum(steps).max())


class _Obj(dict):  # type: ignore[type-arg]
    """A parsed object that remembers keys it saw twice."""

    dups: list[str]


class _Bad:
    """Stands in for a value that must be rejected, so that its path can be reported."""

    def __init__(self, why: str) -> None:
        self.why = why


#: An escaped UTF-16 surrogate: the only way a lone surrogate gets into valid UTF-8 JSON.
_SURROGATE_ESCAPE = re.compile(r"\\[uU][dD][89a-fA-F]")


def _hooks(flags: list[bool]) -> dict[str, Any]:
    """Parser hooks that mark what must be rejected; ``flags`` records that one fired."""

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        d = _Obj()
        d.dups = []
        for k, v in items:
            if k in d:
                d.dups.append(k)
                flags.append(True)
            d[k] = v
        return d

    def constant(text: str) -> _Bad:
        flags.append(True)
        return _Bad(f"{text} is not a number JSON allows (NaN and infinities are refused)")

    def parse_float(text: str) -> float | _Bad:
        v = float(text)
        if not math.isfinite(v):
            flags.append(True)
            return _Bad(f"{clean_text(text, 40)} overflows to infinity")
        return v

    def parse_int(text: str) -> int | _Bad:
        if len(text) > 20:
            flags.append(True)
            return _Bad(f"integer with {len(text)} digits is out of range")
        v = int(text)
        if abs(v) > MAX_ABS_INT:
            flags.append(True)
            return _Bad(f"integer {v} is out of range")
        return v

    return {"object_pairs_hook": pairs, "parse_constant": constant,
            "parse_float": parse_float, "parse_int": parse_int}


def _walk(value: Any, parts: list[str | int], problems: list[UnsafeInput]) -> Any:
    """Turn parsed sentinels into located problems; return plain dicts and lists."""
    if isinstance(value, _Bad):
        problems.append(UnsafeInput(value.why, json_path(parts)))
        return None
    if isinstance(value, dict):
        for k in getattr(value, "dups", ()):
            problems.append(
                UnsafeInput(
                    f"duplicate key {json.dumps(clean_text(k, 80))} (JSON parsers disagree on "
                    "which value wins, so duplicates are refused)",
                    json_path(parts),
                )
            )
        out = {}
        for k, v in value.items():
            _check_str(k, [*parts, k], problems)
            out[k] = _walk(v, [*parts, k], problems)
        return out
    if isinstance(value, list):
        return [_walk(v, [*parts, i], problems) for i, v in enumerate(value)]
    if isinstance(value, str):
        _check_str(value, parts, problems)
    return value


def _check_str(s: str, parts: list[str | int], problems: list[UnsafeInput]) -> None:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        problems.append(UnsafeInput("string holds a lone UTF-16 surrogate", json_path(parts)))


def loads(data: bytes, max_depth: int = MAX_DEPTH, check_depth: bool = True) -> Any:
    """Parse ``data``; raise :class:`UnsafeInput` for the first kind of problem found.

    Structural problems (duplicate keys, non-finite numbers, lone surrogates) are all
    collected and raised together as an ``ExceptionGroup`` of :class:`UnsafeInput`.
    ``check_depth=False`` only when the caller has scanned a larger buffer holding
    ``data`` and found it shallow enough (JSONL: one scan, not one per line).
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnsafeInput(f"not UTF-8 text (byte {exc.start})") from None
    if text.startswith("\ufeff"):
        raise UnsafeInput("starts with a byte-order mark; write plain UTF-8")
    depth = nesting_depth(data) if check_depth else 0
    if depth > max_depth:
        raise UnsafeInput(f"nested {depth} levels deep, over the cap of {max_depth}")
    flags: list[bool] = []
    try:
        raw = json.loads(text, **_hooks(flags))
    except json.JSONDecodeError as exc:
        raise UnsafeInput(
            f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except (ValueError, RecursionError) as exc:
        raise UnsafeInput(f"not valid JSON: {clean_text(exc, 120)}") from None
    if not flags and not _SURROGATE_ESCAPE.search(text):
        return raw  # nothing to report: skip the walk (JSONL lines are many)
    problems: list[UnsafeInput] = []
    value = _walk(raw, [], problems)
    if problems:
        raise ExceptionGroup("unsafe JSON", problems)
    return value
