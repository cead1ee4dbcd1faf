"""Parsing command-line values: number lists, KEY=VALUE options, sizes, ranges."""

from __future__ import annotations

import math
from typing import Any

from lossybench.errors import OutOfRangeError


def parse_floats(text: str, what: str) -> list[float]:
    try:
        values = [float(x) for x in text.replace(" ", "").split(",") if x]
    except ValueError:
        raise OutOfRangeError(
            f"{what} must be a comma-separated list of numbers, got {text!r}"
        ) from None
    if not values:
        raise OutOfRangeError(f"{what} is empty")
    if any(not math.isfinite(v) for v in values):
        raise OutOfRangeError(f"{what} must be finite numbers, got {text!r}")
    return values


def parse_options(items: list[str] | None, what: str) -> dict[str, Any] | None:
    """``["k=v", ...]`` → dict, with numbers and booleans typed."""
    if not items:
        return None
    out: dict[str, Any] = {}
    for item in items:
        key, eq, raw = item.partition("=")
        if not eq or not key.strip():
            raise OutOfRangeError(f"{what} {item!r} is not KEY=VALUE")
        value: Any = raw
        if raw.lower() in ("true", "false"):
            value = raw.lower() == "true"
        else:
            for conv in (int, float):
                try:
                    value = conv(raw)
                    break
                except ValueError:
                    continue
        out[key.strip()] = value
    return out


def parse_size(text: str) -> int:
    units = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}
    t = text.strip().upper()
    num = t.rstrip("KMGTB")
    unit = t[len(num) :]
    try:
        return int(float(num) * units[unit])
    except (ValueError, KeyError):
        raise OutOfRangeError(f"size {text!r} is not like 500MB or 5GB") from None


def split_codecs(values: list[str]) -> list[str]:
    """``["jpeg,webp", "jpeg:subsampling=4:2:0,x=1"]`` → one spec per codec.

    A comma separates codecs, except before ``key=value`` (a codec's next setting).
    """
    out: list[str] = []
    for text in values:
        for part in (p.strip() for p in text.split(",")):
            if not part:
                continue
            key = part.partition("=")[0]
            if "=" in part and ":" not in key and out:
                out[-1] += "," + part
            else:
                out.append(part)
    return out


def parse_range(text: str) -> tuple[float, float]:
    lo, sep, hi = text.partition(":")
    try:
        if not sep:
            raise ValueError
        return float(lo), float(hi)
    except ValueError:
        raise OutOfRangeError(f"--bpp-range must be LO:HI, e.g. 0.1:0.3; got {text!r}") from None
