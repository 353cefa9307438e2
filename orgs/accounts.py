"""Whose password an account has: set by its owner, or by someone else who therefore knows it.

Writes go through `password_set_by` whenever a password is set; reads through
`password_is_own`. Accounts with no AccountState row count as having their owner's password."""

from __future__ import annotations

from django.utils import timezone

from orgs.models import AccountState


def password_set_by(*, user, by) -> None:
    """Record that `by` has just set `user`'s password (the owner, or someone else)."""
    own = by is not None and getattr(by, "pk", None) == user.pk
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
