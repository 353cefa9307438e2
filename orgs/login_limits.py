"""Login attempts limited per (account, address) pair, per account and per address (orgs.throttle:
shared by every process).

An attempt is reserved before the password is checked: it is counted first, in one atomic
statement per counter, and refused unchecked when a count then exceeds its limit. So simultaneous
attempts cannot all pass a limit read before any of them is counted, and a blocked client costs
no password hash. A stranger exhausts only their own pair; the account-wide limit, higher, stops
guessing spread over many addresses."""

from __future__ import annotations

import json

from orgs.throttle import throttle_forgive, throttle_hit, throttle_reset, throttle_retry_after

WINDOW = 15 * 60  # seconds
PER_PAIR = 5  # attempts at one account from one address in a window
PER_ACCOUNT = 20  # attempts at one account from all addresses in a window
PER_ADDRESS = 30  # attempts from one address in a window (many accounts tried from one place)


def _pair_key(username: str, address: str) -> str:
    return "login:pair:" + json.dumps([username.casefold(), address])  # either may contain ":"


def _account_key(username: str) -> str:
    return f"login:user:{username.casefold()}"


def _address_key(address: str) -> str:
    return f"login:addr:{address}"


def login_reserve(*, username: str, address: str) -> int:
    """Count this attempt before its password is checked. Returns 0 when it may be checked (it
    stays counted as a failure until login_succeeded), else the seconds to wait: the attempt was
    refused and its hits taken back, so refusals neither add up nor spread to the other limits."""
    taken: list[str] = []
    for key, limit in (
        (_pair_key(username, address), PER_PAIR),
        (_account_key(username), PER_ACCOUNT),
        (_address_key(address), PER_ADDRESS),
    ):
        taken.append(key)
        if throttle_hit(key, window=WINDOW) > limit:
            for hit in taken:
                throttle_forgive(hit)
            return max(1, throttle_retry_after(key, limit=limit))
    return 0


def login_succeeded(*, username: str, address: str) -> None:
    """A success forgets the account's failures and takes back its own hit on the address (the
    address's other failures stay counted: they may have been at other accounts)."""
    throttle_reset(_pair_key(username, address))
    throttle_reset(_account_key(username))
    throttle_forgive(_address_key(address))
