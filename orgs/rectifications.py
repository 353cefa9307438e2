"""整改: a deadline set on an organisation or a member, after an overdue pledge (pledges) or a
critical review (reviews). Both kinds share this base, its lifecycle, one close/reopen step, one
row shape for lists and one list partial (templates/includes/rectifications.html)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.db import models
from django.utils import timezone

from orgs.models import Member, Organization
from orgs.refusals import refuse


class RectificationStatus(models.TextChoices):
    OPEN = "open", "整改中"
    REPORTED = "reported", "已报告整改情况"
    CLOSED = "closed", "已销号"


class RectificationBase(models.Model):
    """What both kinds of rectification hold. `org` is where the item is kept (the branch of a
    member, or the organisation itself): statistics count it there."""

    org = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    requirement = models.CharField("整改要求", max_length=1000)
    deadline = models.DateField("整改期限")
    status = models.CharField(
        max_length=10, choices=RectificationStatus.choices, default=RectificationStatus.OPEN
    )
    response = models.TextField("整改情况", max_length=2000, blank=True)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    issued_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    @property
    def is_closed(self) -> bool:
        return self.status == RectificationStatus.CLOSED

    @property
    def is_open(self) -> bool:
        """Not yet closed (reported items are still open: the issuer has not closed them)."""
        return not self.is_closed

    @property
    def is_reported(self) -> bool:
        return self.status == RectificationStatus.REPORTED

    @property
    def may_respond(self) -> bool:
        return not self.is_closed

    def is_overdue(self, today: datetime.date) -> bool:
        return self.is_open and self.deadline < today


def rectification_mark_closed(item: RectificationBase, *, reopen: bool = False) -> None:
    """The one close/reopen step of both kinds (the caller has checked the actor and locked the
    row): close a reported item, or reopen a closed one."""
    if reopen:
        if not item.is_closed:
            refuse("该整改尚未销号。")
        item.status, item.closed_at = RectificationStatus.OPEN, None
    else:
        if not item.is_reported:
            refuse("整改情况报告后才能销号。")
        item.status, item.closed_at = RectificationStatus.CLOSED, timezone.now()
    item.save(update_fields=["status", "closed_at"])


def rectification_mark_reported(item: RectificationBase, *, response: str) -> None:
    """Record the response of an open item (the caller has checked the actor and locked the row)."""
    if item.is_closed:
        refuse("该整改已销号。")
    if not response.strip():
        refuse("请填写整改情况。", "response")
    item.response, item.status = response, RectificationStatus.REPORTED
    item.save(update_fields=["response", "status"])


@dataclass(frozen=True)
class RectificationRow:
    """One rectification of either kind as lists, ledgers and statistics read it."""

    source: str  # "pledge" or "review"
    pk: int
    org: Organization
    member: Member | None  # the member it is set on; None for an organisation
    subject_name: str
    requirement: str
    deadline: datetime.date
    status: str
    response: str
    url: str

    @property
    def is_closed(self) -> bool:
        return self.status == RectificationStatus.CLOSED

    @property
    def status_label(self) -> str:
        return RectificationStatus(self.status).label

    @property
    def source_label(self) -> str:
        return {"pledge": "承诺整改", "review": "点评整改"}[self.source]

    def is_overdue(self, today: datetime.date) -> bool:
        return not self.is_closed and self.deadline < today
