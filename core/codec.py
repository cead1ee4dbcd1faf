"""The codec contract: real bitstreams in, same-size RGB images out.

Why a class with a declared :class:`QualityRange`: rate control needs to know which
way the knob turns, where it stops and whether it is continuous, so that it can search
any codec for a bit-rate target without codec-specific code.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np

from lossybench.errors import CodecError, OutOfRangeError

QualityKind = Literal["continuous", "discrete"]


@dataclass(frozen=True)
class QualityRange:
    """The codec's rate knob.

    ``higher_is_better`` says whether raising the value raises quality and bits
    (JPEG quality) or lowers them (JPEG XL distance). Discrete knobs move in ``step``
    from ``minimum``; continuous knobs are searched to ``resolution``.
    """

    minimum: float
    maximum: float
    kind: QualityKind = "discrete"
    higher_is_better: bool = True
    step: float = 1.0
    resolution: float = 0.01
    name: str = "quality"
    default: float | None = None
    log_scale: bool = False
    #: Discrete knobs whose neighbouring settings can give identical bitstreams (libheif
    #: maps two qualities onto one x265 QP): the settings that differ, each the largest of
    #: its group. Rate control searches only these; every level stays a valid setting.
    distinct: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.minimum) and math.isfinite(self.maximum)):
            raise ValueError("quality range bounds must be finite")
        if self.minimum >= self.maximum:
            raise ValueError(f"quality range minimum {self.minimum} >= maximum {self.maximum}")
        if self.kind not in ("continuous", "discrete"):
            raise ValueError(f"quality kind must be 'continuous' or 'discrete', not {self.kind!r}")
        if self.kind == "discrete" and self.step <= 0:
            raise ValueError("discrete quality step must be positive")
        if self.log_scale and self.minimum <= 0:
            raise ValueError("a log-scale quality range needs a positive minimum")
        if self.distinct is not None:
            levels = self.levels or []
            if (
                len(self.distinct) < 2
                or list(self.distinct) != sorted(set(self.distinct))
                or any(v not in levels for v in self.distinct)
            ):
                raise ValueError("distinct settings must be >= 2 ascending levels of the knob")

    @property
    def levels(self) -> list[float] | None:
        """Every setting of a discrete knob, in ascending value order."""
        if self.kind != "discrete":
            return None
        n = round((self.maximum - self.minimum) / self.step)
        return [self.minimum + i * self.step for i in range(n + 1)]

    @property
    def search_levels(self) -> list[float] | None:
        """The settings rate control tries: :attr:`distinct` if given, else every level."""
        return list(self.distinct) if self.distinct is not None else self.levels

    def validate(self, value: float) -> float:
        """Return ``value`` as the codec will use it, or raise with the valid range."""
        if not isinstance(value, int | float) or not math.isfinite(value):
            raise OutOfRangeError(f"{self.name} must be a finite number, got {value!r}")
        if not self.minimum <= value <= self.maximum:
            raise OutOfRangeError(
                f"{self.name} {value:g} is outside [{self.minimum:g}, {self.maximum:g}]"
            )
        if self.kind == "discrete":
            k = round((value - self.minimum) / self.step)
            snapped = self.minimum + k * self.step
            if abs(snapped - value) > 1e-9:
                raise OutOfRangeError(
                    f"{self.name} {value:g} is not a level: use {self.minimum:g}..{self.maximum:g} "
                    f"in steps of {self.step:g}"
                )
            return snapped
        return float(value)

    def describe(self) -> str:
        arrow = "higher = better" if self.higher_is_better else "lower = better"
        if self.kind == "discrete":
            span = f"{self.minimum:g}..{self.maximum:g} step {self.step:g}"
        else:
            span = f"{self.minimum:g}..{self.maximum:g} continuous"
        return f"{self.name} {span} ({arrow})"


@dataclass(frozen=True)
class CodecOption:
    """A codec setting a user may change (``--codec jpeg:subsampling=4:4:4``).

    ``placement`` marks a setting that says where the codec runs, not what it writes
    (a learned codec's ``device``): its bits must not depend on it, so it is left out of
    the codec's label and identity (cache keys, result comparisons). A placement option
    named ``device`` follows the run's ``--device`` unless the user sets it.
    """

    name: str
    default: Any
    help: str
    choices: tuple[Any, ...] | None = None
    placement: bool = False

    def parse(self, raw: Any) -> Any:
        value: Any = raw
        if isinstance(raw, str) and not isinstance(self.default, str):
            if isinstance(self.default, bool):
                low = raw.lower()
                if low not in ("1", "0", "true", "false", "yes", "no"):
                    raise OutOfRangeError(f"option {self.name} expects true/false, got {raw!r}")
                value = low in ("1", "true", "yes")
            elif isinstance(self.default, int):
                value = int(raw)
            elif isinstance(self.default, float):
                value = float(raw)
        if self.choices is not None and value not in self.choices:
            allowed = ", ".join(map(str, self.choices))
            raise OutOfRangeError(f"option {self.name}={raw!r} is not one of: {allowed}")
        return value


@dataclass(frozen=True)
class Backend:
    """Which library really produced the bits; stamped into every result."""

    library: str
    version: str
    binding: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"library": self.library, "version": self.version, "binding": self.binding}


class Codec(ABC):
    """Base class of every codec plugin.

    Subclasses set ``name``, ``description``, ``quality`` and optionally ``options``
    and ``suffix``, and implement :meth:`encode`, :meth:`decode` and :meth:`backend`.
    Instances are cheap, picklable (worker processes receive them) and hold only
    their option values.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    quality: ClassVar[QualityRange]
    options: ClassVar[tuple[CodecOption, ...]] = ()
    suffix: ClassVar[str] = ".bin"
    #: True when :meth:`encode_batch` beats one :meth:`encode` per image (a network on a
    #: GPU): the codec stage then encodes each group of images' first trials together
    batches: ClassVar[bool] = False

    def __init__(self, **settings: Any) -> None:
        known = {o.name: o for o in self.options}
        unknown = sorted(set(settings) - set(known))
        if unknown:
            valid = ", ".join(known) or "none"
            raise OutOfRangeError(
                f"codec {self.name!r} has no option {', '.join(unknown)}; options: {valid}"
            )
        self.settings: dict[str, Any] = {
            name: opt.parse(settings[name]) if name in settings else opt.default
            for name, opt in known.items()
        }

    # -- the contract -------------------------------------------------------------
    @abstractmethod
    def encode(self, image: np.ndarray, quality: float) -> bytes:
        """Compress an (H, W, 3) uint8 RGB array into the bytes that would be stored."""

    @abstractmethod
    def decode(self, bitstream: bytes) -> np.ndarray:
        """Reconstruct the (H, W, 3) uint8 RGB array from :meth:`encode`'s bytes."""

    def encode_batch(self, images: Sequence[np.ndarray], quality: float) -> list[bytes]:
        """:meth:`encode` of several images at one setting. Each result must be exactly the
        bytes :meth:`encode` gives that image alone (batching never changes a result)."""
        return [self.encode(image, quality) for image in images]

    @classmethod
    @abstractmethod
    def backend(cls) -> Backend:
        """The library (and version) doing the work, for provenance."""

    def rate_axis(self, quality: float) -> float:
        """A monotone transform of the knob along which log(bpp) is close to linear.

        Rate control interpolates on this axis; a good one (JPEG's quantiser scale)
        saves encodes. It must grow with quality in the knob's better direction.
        The default is the knob itself, or its logarithm for ``log_scale`` knobs.
        """
        return math.log(quality) if self.quality.log_scale else float(quality)

    def initial_guess(self, target_bpp: float, width: int, height: int) -> float | None:
        """A first setting to try for ``target_bpp``; None lets rate control choose.

        Codecs whose knob *is* a rate (JPEG 2000's compression ratio) return it and
        rate control usually finishes in one or two encodes.
        """
        return None

    def rate_prior(self, quality: float) -> float | None:
        """The bpp a *typical* photo gets at ``quality``, or None if the codec has no idea.

        Fixed data shipped with the codec (never fitted to the images being run, so an
        answer depends on its own image only). Rate control uses it for the first trial
        of an image and, shifted by what it measured, to extrapolate the curve's shape;
        any (setting → bpp) curve of the right shape helps, the level matters less.
        :func:`log_interp` interpolates a small table of knots.
        """
        return None

    @classmethod
    def check_available(cls) -> None:
        """Raise :class:`CodecError` with an install hint if the backend is missing."""

    # -- helpers shared by every codec ---------------------------------------------
    @property
    def label(self) -> str:
        """``name`` plus the non-default settings: the identity of this configuration."""
        changed = {
            o.name: self.settings[o.name]
            for o in self.options
            if self.settings[o.name] != o.default and not o.placement
        }
        if not changed:
            return self.name
        return self.name + ":" + ",".join(f"{k}={v}" for k, v in sorted(changed.items()))

    def identity(self) -> dict[str, Any]:
        """Everything that changes the bits: for cache keys and result provenance."""
        placement = {o.name for o in self.options if o.placement}
        return {
            "name": self.name,
            "settings": {k: v for k, v in sorted(self.settings.items()) if k not in placement},
            "backend": self.backend().as_dict(),
        }

    def roundtrip(self, image: np.ndarray, quality: float) -> tuple[bytes, np.ndarray]:
        """Encode then decode, checking the contract so a broken codec fails loudly."""
        q = self.quality.validate(quality)
        try:
            bits = self.encode(image, q)
        except CodecError:
            raise
        except Exception as exc:
            raise CodecError(
                f"{self.name}: encoding failed at {self.quality.name} {q:g}: {exc}"
            ) from exc
        if not isinstance(bits, bytes | bytearray) or len(bits) == 0:
            raise CodecError(
                f"{self.name}: encode returned {type(bits).__name__}, not non-empty bytes"
            )
        decoded = self.safe_decode(bytes(bits))
        if decoded.shape != image.shape:
            raise CodecError(
                f"{self.name}: decoded shape {decoded.shape} differs from input {image.shape}"
            )
        return bytes(bits), decoded

    def safe_decode(self, bitstream: bytes) -> np.ndarray:
        """:meth:`decode` with its failures turned into a :class:`CodecError`."""
        try:
            out = self.decode(bitstream)
        except CodecError:
            raise
        except Exception as exc:
            raise CodecError(f"{self.name}: cannot decode the bitstream ({exc})") from exc
        out = np.asarray(out)
        if out.dtype != np.uint8 or out.ndim != 3 or out.shape[2] != 3:
            raise CodecError(
                f"{self.name}: decode returned {out.dtype} {out.shape}, not (H, W, 3) uint8"
            )
        return out


def log_interp(
    knots: tuple[tuple[float, float], ...], quality: float, log_quality: bool = False
) -> float:
    """Piecewise linear interpolation of log(bpp) between ``(quality, bpp)`` knots (sorted
    by quality; in log(quality) too with ``log_quality``), extrapolated along the end
    segments: the usual form of :meth:`Codec.rate_prior`."""
    i = 1
    while i < len(knots) - 1 and quality > knots[i][0]:
        i += 1
    (q0, b0), (q1, b1) = knots[i - 1], knots[i]
    if log_quality:
        q0, q1, quality = math.log(q0), math.log(q1), math.log(quality)
    t = (quality - q0) / (q1 - q0)
    return math.exp(math.log(b0) + t * (math.log(b1) - math.log(b0)))


def bits_per_pixel(bitstream: bytes | int, width: int, height: int) -> float:
    """8 × bytes / pixels of the original image: never an estimate."""
    n = bitstream if isinstance(bitstream, int) else len(bitstream)
    return 8.0 * n / (width * height)


@dataclass
class CodecSpec:
    """A parsed ``NAME[:key=value,...]`` codec argument."""

    name: str
    settings: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> CodecSpec:
        name, _, rest = text.partition(":")
        settings: dict[str, str] = {}
        if rest:
            for part in rest.split(","):
                key, eq, value = part.partition("=")
                if not eq or not key:
                    raise OutOfRangeError(
                        f"codec option {part!r} in {text!r} is not key=value "
                        "(example: jpeg:subsampling=4:4:4)"
                    )
                settings[key.strip()] = value.strip()
        return cls(name.strip(), settings)
