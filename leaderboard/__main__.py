"""``python -m lossybench.leaderboard`` runs the leaderboard commands on their own."""

from lossybench.leaderboard.cli import main

if __name__ == "__main__":
    main()
