"""The access matrix rows of the notices and calendar routes (merged into tests/test_access_matrix)."""

ROUTES: dict = {}
