"""Reporting: result records, the leaderboard, comparisons and figures."""
