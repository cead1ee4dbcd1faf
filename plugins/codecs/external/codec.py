"""The codec class generated for each external codec definition.

Why: the registry and the engine know only :class:`~lossybench.codec.Codec`
subclasses, so each definition becomes one class (cached per definition, so its
identity is stable) whose encode and decode run the programs on temporary files.
"""

from __future__ import annotations

import hashlib
import re
import shlex
import shutil
import tempfile
import unicodedata
from collections import OrderedDict
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from lossybench.codec import Backend, Codec, log_interp
from lossybench.errors import CodecError
from lossybench.plugins.codecs.external.definition import Definition
from lossybench.plugins.codecs.external.parsing import _placeholders
from lossybench.plugins.codecs.external.pixels import read_decoded, write_input
from lossybench.plugins.codecs.external.process import (
    format_quality,
    missing_program_message,
    run_command,
)

#: Seconds the ``version`` command may take: it runs for provenance, not for work.
VERSION_TIMEOUT = 10.0


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


#: a result stores the version line; longer ones are cut (results cap the field at 200)
VERSION_CHARS = 200
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


def printable(text: str) -> str:
    """``text`` without terminal colour codes and control or invisible characters (a
    program's banner may carry them; a result must not: it is shown to people)."""
    text = _ANSI.sub("", text)
    return "".join(c for c in text if unicodedata.category(c) not in ("Cc", "Cf", "Co", "Zl", "Zp"))


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
        _versions[d] = printable(line)[:VERSION_CHARS] or "?"
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
