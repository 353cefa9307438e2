"""Failed logins counted per account and per address (orgs.throttle: shared by every process).

The limits are read before the password is checked, so a blocked client costs no password hash."""

from __future__ import annotations

from orgs.throttle import throttle_hit, throttle_reset, throttle_retry_after

WINDOW = 15 * 60  # seconds
PER_ACCOUNT = 5  # failures per account in a window
PER_ADDRESS = 30  # failures from one address in a window (many accounts tried from one place)


def _keys(*, username: str, address: str) -> list[tuple[str, int]]:
    return [
        (f"login:user:{username.casefold()}", PER_ACCOUNT),
        (f"login:addr:{address}", PER_ADDRESS),
    ]


def login_wait(*, username: str, address: str) -> int:
    """Seconds before this account may be tried again from this address (0: now)."""
    return max(
        throttle_retry_after(key, limit=limit)
        for key, limit in _keys(username=username, address=address)
    )


def login_failed(*, username: str, address: str) -> None:
    for key, _ in _keys(username=username, address=address):
        throttle_hit(key, window=WINDOW)


def login_succeeded(*, username: str) -> None:
    """A success forgets the account's failures (the address's stay counted)."""
    throttle_reset(_keys(username=username, address="")[0][0])
