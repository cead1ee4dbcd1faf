"""``python -m lossybench`` (and ``torchrun -m lossybench``) runs the CLI."""

from lossybench.cli.app import main

if __name__ == "__main__":
    main()
