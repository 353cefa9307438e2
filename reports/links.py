"""Placeholder: filled in with the statistics issue."""


def register() -> None:
    pass
