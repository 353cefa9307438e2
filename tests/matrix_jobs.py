"""The access matrix rows of the background jobs' routes (merged into tests/test_access_matrix)."""

ROUTES: dict = {}
