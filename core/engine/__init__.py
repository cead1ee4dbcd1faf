"""The engine: rate control, the codec stage, runs, sweeps and finetunes.

No command line here (no typer, no rich): the engine is what the CLI, the Python API
and tests drive. It imports the kits and the contract, never :mod:`lossybench.cli`.
"""
