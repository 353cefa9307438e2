"""Access-matrix rows for the Excel routes of reports (merged into tests/test_access_matrix)."""

ROUTES: dict = {}
