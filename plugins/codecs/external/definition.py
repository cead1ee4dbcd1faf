"""What one external codec definition file says, once it has been checked.

Why a module of its own: every other part of the plugin (parsing, running the
programs, the codec class, discovery) passes this record around, so it must depend on
none of them. Frozen and hashable, it keys the caches of generated classes and
version lines.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from lossybench.codec import QualityRange
from lossybench.errors import LossybenchError


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


def program_path(arg0: str, toml: Path) -> str:
    """The program as given: ``{toml_dir}`` filled and ``~`` expanded."""
    return os.path.expanduser(arg0.format(toml_dir=str(toml.parent)))
