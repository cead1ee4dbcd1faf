"""Synthetic, pipeline-faithful result files for the leaderboard tests."""
