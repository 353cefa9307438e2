"""History rows: every app keeps who did what to a record, and why, in one shape.

An event model has `actor` (a user, or null for the public and for tasks), `action` and `comment`;
extra columns (the record it belongs to, the status it moved from and to, the changed fields) are
passed through.
"""

from __future__ import annotations

from django.db import models

COMMENT_LIMIT = 4000


def actor_of(by):
    """The user to record as the actor: None for an anonymous caller or a task."""
    return by if getattr(by, "is_authenticated", False) else None


def record_event(model: type[models.Model], *, by, action: str, comment: str = "", **columns):
    """Create one `model` history row; the comment is cut to what the column holds."""
    limit = model._meta.get_field("comment").max_length or COMMENT_LIMIT
    return model.objects.create(
        actor=actor_of(by), action=action, comment=(comment or "")[:limit], **columns
    )
