"""Command-line options several `bench` commands share, spelled once (typer ``Annotated``)."""

from __future__ import annotations

from typing import Annotated

import typer

from lossybench.engine.ratecontrol import DEFAULT_RATE_TOLERANCE

CacheDir = Annotated[
    str | None,
    typer.Option(
        help="Bitstream cache directory, shared by runs, tasks and models "
        "[default: the user cache dir, or $LOSSYBENCH_CACHE]."
    ),
]
NoCache = Annotated[
    bool, typer.Option("--no-cache", help="Neither read nor write the bitstream cache.")
]
RatePolicy = Annotated[
    str | None, typer.Option("--policy", help="Rate control: floor (default) or nearest.")
]
RateTolerance = Annotated[
    float | None,
    typer.Option(
        "--rate-tolerance",
        help="Relative rate tolerance of rate control [default: "
        f"{DEFAULT_RATE_TOLERANCE}]: floor accepts bpp in [(1 - tol)·target, target]; "
        "0 = exact search. Example: --rate-tolerance 0",
        min=0.0,
        max=0.5,
    ),
]
