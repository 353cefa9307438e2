"""Roster export and import for large subtrees, run as background jobs."""


def register() -> None:
    """Declare the roster job kinds (called once from the AppConfig)."""
