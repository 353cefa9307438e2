"""Whose password an account has: set by its owner, or by someone else who therefore knows it.

Writes go through `password_set_by` whenever a password is set; reads through
`password_is_own` (is the current password the owner's?) and `password_ever_set_by` (did this
person ever know that account's password?). Accounts with no AccountState row count as having
their owner's password."""

from __future__ import annotations

from django.utils import timezone

from orgs.models import AccountState, PasswordSetting


def password_set_by(*, user, by) -> None:
    """Record that `by` has just set `user`'s password (the owner, or someone else); a setting by
    someone else is also kept for good in the PasswordSetting history."""
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
