"""The leaderboard: validate, recompute, rank and publish submitted results."""
