"""A run's results: reading its directory back, judging it, reports, comparing two runs."""
