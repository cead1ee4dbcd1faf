"""Running one external program safely: no shell, a time limit, errors that say what to fix.

Why: encoders are arbitrary user programs (often wrapper scripts), so a hung or
failing tool must neither hang the benchmark nor leave children behind, and its
failure must reach the user with the command line and the tail of its output.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess

from lossybench.codec import QualityRange
from lossybench.errors import CodecError
from lossybench.plugins.codecs.external.definition import Definition

#: Characters of a failing tool's output quoted in the error.
TAIL_CHARS = 1500


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
