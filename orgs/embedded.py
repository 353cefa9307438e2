"""The embedded default (no Redis, tasks eager) still reminds: the sweep runs in the web process."""


def connect() -> None:
    """Hook the in-process sweep up (called once from the AppConfig)."""
