"""Records that a signature holds: a change to them is refused, naming who signed and when.

The foundation does not know what holds a record (the 写实簿, above it): the app that signs
registers in its AppConfig.ready()
- a describer, f(source, ids) -> the refusal or None: whether any of the records `ids` of the kind
  `source` ("pledge", "fulfilment", "review", …) is held now, and by whose signature;
- the fields each source holds, so a change of other fields is not looked up at all.

A change is refused on two levels. The services that write these records call
`refuse_if_locked` before writing, so a page answers on its form and keeps what was typed. Every
other path (the admin, a bulk update, raw SQL) meets the database triggers, whose error is an
IntegrityError carrying LOCK_MARKER; `orgs.middleware.LedgerLockMiddleware` turns that into a 409
page with the message.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.core.exceptions import ValidationError
from django.db import IntegrityError

# Every refusal by a trigger starts with this text (ledgers/locks.py writes it into the SQL).
LOCK_MARKER = "写实簿已签字："
# The code of the ValidationError refuse_if_locked raises.
LOCKED = "ledger_locked"

lock_describers: list[Callable[[str, list[int]], str | None]] = []
# source -> the field names (model field names or columns) a lock on that source holds
locked_fields: dict[str, frozenset[str]] = {}


def refuse_if_locked(source: str, ids: Iterable[int | None], *, fields=None) -> None:
    """Refuse (ValidationError) a change to the records `ids` of `source` while a signature holds
    any of them. With `fields`, the names of the fields the change writes: a change that writes
    none of the held fields passes without a query."""
    ids = sorted({int(pk) for pk in ids if pk is not None})
    if not ids or not lock_describers:
        return
    if fields is not None and source in locked_fields:
        held = locked_fields[source]
        if not any(name in held or f"{name}_id" in held for name in fields):
            return
    for describe in lock_describers:
        message = describe(source, ids)
        if message:
            raise ValidationError(message, code=LOCKED)


def _database_message(exc: BaseException) -> str:
    """The text the database gave: PostgreSQL's primary message (without its CONTEXT lines)."""
    diag = getattr(exc.__cause__, "diag", None)
    primary = getattr(diag, "message_primary", None)
    return primary if primary else str(exc)


def is_lock_error(exc: BaseException) -> bool:
    """Whether `exc` is a refusal under a signature: a trigger's IntegrityError, or the
    ValidationError of refuse_if_locked that reached a page not expecting it."""
    if isinstance(exc, IntegrityError):
        return LOCK_MARKER in _database_message(exc)
    return isinstance(exc, ValidationError) and getattr(exc, "code", None) == LOCKED


def lock_error_text(exc: BaseException) -> str:
    """The refusal to show, without the marker."""
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    text = _database_message(exc)
    return text[text.index(LOCK_MARKER) + len(LOCK_MARKER) :].strip()
