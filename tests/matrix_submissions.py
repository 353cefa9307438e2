"""Access-matrix rows for the routes of reports (merged into tests/test_access_matrix)."""

ROUTES: dict = {}
