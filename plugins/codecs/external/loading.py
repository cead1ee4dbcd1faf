"""Finding the external codec definition files and turning them into codec classes.

Why: definitions come from three places with a precedence (``$LOSSYBENCH_EXTERNAL_CODECS``,
the user config dir, the built-in ``external_codecs/`` folder), and a broken file must
never stop the others. Loading therefore never raises: it keeps the usable classes and
records why each other file was skipped, for :func:`definition_errors`.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from lossybench.plugins.codecs.external.codec import ExternalCodec, codec_class
from lossybench.plugins.codecs.external.definition import DefinitionError
from lossybench.plugins.codecs.external.parsing import parse_definition

ENV_VAR = "LOSSYBENCH_EXTERNAL_CODECS"
#: ``plugins/codecs/external_codecs/``: package data of ``lossybench.plugins.codecs``.
BUILTIN_DIR = Path(__file__).parent.with_name("external_codecs")


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
