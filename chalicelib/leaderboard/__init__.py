"""The leaderboard: boards by week, month and all time; exact ranks in two requests."""
