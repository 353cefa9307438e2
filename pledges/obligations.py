"""The deadlines this app owns and its obligation rules (who still owes what before each)."""


def register() -> None:
    """Declare this app's deadline kinds (called once from the AppConfig)."""
