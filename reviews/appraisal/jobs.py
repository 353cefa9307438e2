"""Background jobs of the democratic appraisal."""


def register() -> None:
    """Declare the appraisal's job kinds (called once from the AppConfig)."""
