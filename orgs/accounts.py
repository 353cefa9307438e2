"""Whose password an account has: set by its owner, or by someone else who therefore knows it.

Writes go through `password_set_by` whenever a password is set; reads through
`password_is_own` (is the current password the owner's?) and `password_ever_set_by` (did this
person ever know that account's password?), `password_setter_chain` (could they know it through
accounts whose passwords they set?). Accounts with no AccountState row count as having their
owner's password."""

from __future__ import annotations

from django.utils import timezone

from orgs.models import AccountState, PasswordSetting


def password_set_by(*, user, by) -> None:
    """Record that `by` has just set `user`'s password (the owner, or someone else); a setting by
    someone else is also kept for good in the PasswordSetting history. The owner's own setting
    must follow a real change (`orgs.services.password_change` refuses the current password), or
    a password someone else chose would pass for the owner's."""
    own = by is not None and getattr(by, "pk", None) == user.pk
    if not own:
        PasswordSetting.objects.create(user=user, by=by if getattr(by, "pk", None) else None)
    AccountState.objects.update_or_create(
        user=user,
        defaults={
            "password_set_by_other": not own,
            **({"password_changed_at": timezone.now()} if own else {}),
        },
    )
    if hasattr(user, "_password_is_own"):
        del user._password_is_own


def password_is_own(user) -> bool:
    """Whether the account's password was chosen by its owner (one query, cached on the user)."""
    if not getattr(user, "is_authenticated", False):
        return False
    cached = getattr(user, "_password_is_own", None)
    if cached is None:
        cached = not AccountState.objects.filter(
            user_id=user.pk, password_set_by_other=True
        ).exists()
        user._password_is_own = cached
    return cached


def password_ever_set_by(*, user, by) -> bool:
    """Whether `by` has ever set `user`'s password (and so may have taken the account over, even
    if its owner changed the password since). Setting one's own password does not count."""
    if getattr(user, "pk", None) is None or getattr(by, "pk", None) is None or user.pk == by.pk:
        return False
    return PasswordSetting.objects.filter(user_id=user.pk, by_id=by.pk).exists()


# Levels of "who set the password of whoever set this one" followed, one query each. Real chains
# are a few logins long (county, branch secretary, member); the bound only stops a pathological
# history from costing more.
SETTER_CHAIN_DEPTH = 8


def password_setter_chain(*, user, by) -> list[int]:
    """The account ids [by, ..., user] through which `by` may hold `user`'s login: `by` set the
    password of the next account, whose holder set the next one's, and so on up to `user` (an
    account whose password someone set may be used by that person, who can then open further
    logins from it). [] when there is no such chain within SETTER_CHAIN_DEPTH settings, or when
    `by` is `user`."""
    target = getattr(by, "pk", None)
    start = getattr(user, "pk", None)
    if start is None or target is None or start == target:
        return []
    # each setter found -> the account whose password they set (one step nearer `user`)
    next_toward_user: dict[int, int] = {start: start}
    frontier = {start}
    for _ in range(SETTER_CHAIN_DEPTH):
        found = set()
        rows = PasswordSetting.objects.filter(user_id__in=frontier, by__isnull=False).values_list(
            "by_id", "user_id"
        )
        for setter, account in rows:
            if setter not in next_toward_user:
                next_toward_user[setter] = account
                found.add(setter)
        if target in next_toward_user:
            chain = [target]
            while chain[-1] != start:
                chain.append(next_toward_user[chain[-1]])
            return chain
        if not found:
            return []
        frontier = found
    return []
