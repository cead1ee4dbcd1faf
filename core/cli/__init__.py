"""The ``bench`` command line (also installed as ``lossybench``): one module per command.

Only this package imports typer and rich; it drives :mod:`lossybench.engine`.
"""

from lossybench.cli.app import app, main

__all__ = ["app", "main"]
