"""Codecs that are external programs (VTM, BPG, cjpeg, ...), defined by TOML files.

Why: reference encoders are command-line binaries, and a user should be able to
benchmark one by describing how to call it, without writing Python. Each definition
file becomes one :class:`ExternalCodec` subclass, so the registry sees an ordinary
codec with a name and a :class:`~lossybench.codec.QualityRange`.

Definitions are read from, in this order (the first definition of a name wins):

1. every ``*.toml`` in the directories (or the files) listed in
   ``$LOSSYBENCH_EXTERNAL_CODECS`` (``os.pathsep``-separated);
2. ``<user config dir>/lossybench/codecs/*.toml`` (``platformdirs.user_config_dir``);
3. the built-in definitions in ``lossybench/plugins/codecs/external_codecs/*.toml``.

User definitions are always registered, so a missing program is reported when the
codec is used, with its install hint. A built-in definition is registered only when
its programs are installed, so ``bench list`` shows only what works. A broken file
never stops the others: it is skipped and described by :func:`definition_errors`.
See docs/external-codecs.md for the file format.

This package is the plugin module (the ``external`` entry point): it holds the hooks
and re-exports the names callers use. A test that patches a module attribute must
patch it where it is looked up (e.g. ``loading.BUILTIN_DIR``), not here.
"""

from __future__ import annotations

from lossybench import hookimpl
from lossybench.codec import Codec
from lossybench.plugins.codecs.external.codec import VERSION_TIMEOUT, ExternalCodec, codec_class
from lossybench.plugins.codecs.external.definition import (
    Definition,
    DefinitionError,
    program_path,
)
from lossybench.plugins.codecs.external.loading import (
    BUILTIN_DIR,
    ENV_VAR,
    definition_errors,
    load_definitions,
    user_codec_dir,
)
from lossybench.plugins.codecs.external.parsing import DEFAULT_TIMEOUT, parse_definition
from lossybench.plugins.codecs.external.pixels import (
    read_decoded,
    rgb_to_ycbcr,
    write_input,
    ycbcr_to_rgb,
)
from lossybench.plugins.codecs.external.process import (
    format_quality,
    missing_program_message,
    run_command,
)

__all__ = [
    "BUILTIN_DIR",
    "DEFAULT_TIMEOUT",
    "ENV_VAR",
    "VERSION_TIMEOUT",
    "Definition",
    "DefinitionError",
    "ExternalCodec",
    "codec_class",
    "definition_errors",
    "format_quality",
    "load_definitions",
    "lossybench_codecs",
    "lossybench_diagnostics",
    "missing_program_message",
    "parse_definition",
    "program_path",
    "read_decoded",
    "rgb_to_ycbcr",
    "run_command",
    "user_codec_dir",
    "write_input",
    "ycbcr_to_rgb",
]


@hookimpl
def lossybench_codecs() -> list[type[Codec]]:
    return list(load_definitions())


@hookimpl(optionalhook=True)
def lossybench_diagnostics() -> list[str]:
    """The skipped definition files, for ``bench list`` (runs after the codecs hook)."""
    return definition_errors()
