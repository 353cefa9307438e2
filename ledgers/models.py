"""The 写实簿 (黑创先办[2010]12号 §四, 附件1 and 附件2): one ledger per member and per basic-level
organisation per year, its signatures and the text its keeper adds.

A ledger's content is not stored here: it is assembled from the pledges, reviews and appraisal
records (ledgers/assembly.py). What is stored is what the people add — the 简要总结, its draft,
the 另附页 supplements, a reason a source is missing — and each signature: a canonical snapshot of
exactly what was signed, its SHA-256, chained to the ledger's previous signature. A signature row
never changes except to record its withdrawal once; on every database a trigger holds that, and the
records under a signed section are held by triggers too (see ledgers/locks.py).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from orgs.figures import FigureRow
from orgs.models import Member, Organization


class LedgerKind(models.TextChoices):
    MEMBER = "member", "党员创先争优活动写实簿"
    ORG = "org", "党组织创先争优写实簿"


class Ledger(models.Model):
    kind = models.CharField("写实簿类别", max_length=8, choices=LedgerKind.choices)
    year = models.PositiveSmallIntegerField("年度")
    member = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    subject_org = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # who keeps it (保管): the member's branch (at the year's end, or now during the year);
    # the organisation's parent
    keeper = models.ForeignKey(
        Organization, verbose_name="保管组织", on_delete=models.PROTECT, related_name="+"
    )
    head = models.CharField("签字链末端摘要", max_length=64, blank=True)
    signature_count = models.PositiveSmallIntegerField("签字次数", default=0)
    created_at = models.DateTimeField("建立时间", auto_now_add=True)

    class Meta:
        verbose_name = "写实簿"
        verbose_name_plural = "写实簿"
        constraints = [
            models.UniqueConstraint(
                fields=["year", "member"],
                condition=Q(kind="member"),
                name="ledger_one_per_member_year",
            ),
            models.UniqueConstraint(
                fields=["year", "subject_org"],
                condition=Q(kind="org"),
                name="ledger_one_per_org_year",
            ),
            models.CheckConstraint(
                condition=(Q(kind="member") & Q(member__isnull=False) & Q(subject_org__isnull=True))
                | (Q(kind="org") & Q(subject_org__isnull=False) & Q(member__isnull=True)),
                name="ledger_subject_present",
            ),
        ]
        indexes = [models.Index(fields=["year", "keeper", "kind"], name="ledger_year_keeper")]

    def __str__(self) -> str:
        return f"{self.subject_name} {self.year}年度写实簿"

    @property
    def is_member(self) -> bool:
        return self.kind == LedgerKind.MEMBER

    @property
    def subject_name(self) -> str:
        return self.member.name if self.is_member else self.subject_org.name

    @property
    def short_hash(self) -> str:
        return self.head[:12]


class Signature(models.Model):
    """One dated sign-off of one section by the person the form names (or the record that the
    member signed the paper ledger). Immutable but for its withdrawal, written once."""

    ledger = models.ForeignKey(Ledger, on_delete=models.PROTECT, related_name="signatures")
    seq = models.PositiveIntegerField("序号")
    section = models.CharField("栏目", max_length=8)
    slot = models.CharField("签字人", max_length=8)
    org = models.ForeignKey(
        Organization, verbose_name="签字所代表的组织", on_delete=models.PROTECT, related_name="+"
    )
    signer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    signer_name = models.CharField("签字人姓名", max_length=50)
    capacity = models.CharField("签字身份", max_length=100)
    on_paper = models.BooleanField("在纸质写实簿上签字", default=False)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    recorded_by_name = models.CharField("登记人", max_length=50, blank=True)
    signed_on = models.DateField("签字日期")
    signed_at = models.DateTimeField("记录时间")
    payload = models.TextField("签字内容快照")
    content_hash = models.CharField("内容摘要", max_length=64)
    prev_hash = models.CharField("上一签字摘要", max_length=64, blank=True)
    chain_hash = models.CharField("签字链摘要", max_length=64)
    withdrawn_at = models.DateTimeField("撤回时间", null=True, blank=True)
    withdrawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    withdrawn_name = models.CharField("撤回人", max_length=50, blank=True)
    withdraw_reason = models.CharField("撤回理由", max_length=500, blank=True)

    class Meta:
        verbose_name = "写实簿签字"
        verbose_name_plural = "写实簿签字"
        ordering = ["ledger", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["ledger", "seq"], name="signature_seq_once"),
            models.UniqueConstraint(
                fields=["ledger", "section", "slot"],
                condition=Q(withdrawn_at__isnull=True),
                name="signature_one_live_per_slot",
            ),
        ]
        indexes = [models.Index(fields=["org", "section"], name="signature_org_section")]

    def __str__(self) -> str:
        return f"{self.ledger_id}#{self.seq} {self.section}/{self.slot}"

    @property
    def is_live(self) -> bool:
        return self.withdrawn_at is None


class NoteKind(models.TextChoices):
    SUMMARY = "summary", "年度开展创先争优活动情况简要总结"
    DRAFT = "draft", "简要总结（初稿）"
    SUPPLEMENT = "supplement", "另附页"
    MISSING = "missing", "缺记录说明"


class LedgerNote(models.Model):
    """Text people add to a section: never a copy of a record, which is assembled, not stored."""

    ledger = models.ForeignKey(Ledger, on_delete=models.CASCADE, related_name="notes")
    section = models.CharField("栏目", max_length=8)
    kind = models.CharField("类别", max_length=12, choices=NoteKind.choices)
    text = models.TextField("内容", max_length=4000)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    by_name = models.CharField("填写人", max_length=50, blank=True)
    updated_at = models.DateTimeField("填写时间", auto_now=True)

    class Meta:
        verbose_name = "写实簿填写内容"
        verbose_name_plural = "写实簿填写内容"
        constraints = [
            models.UniqueConstraint(fields=["ledger", "section", "kind"], name="note_once")
        ]

    def __str__(self) -> str:
        return f"{self.ledger_id} {self.section} {self.kind}"


class LedgerEvent(models.Model):
    """The history: every signature, withdrawal and change of a note."""

    ledger = models.ForeignKey(Ledger, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField("时间", auto_now_add=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_name = models.CharField("操作人", max_length=50, blank=True)
    action = models.CharField("操作", max_length=20)
    section = models.CharField("栏目", max_length=8, blank=True)
    slot = models.CharField("签字人", max_length=8, blank=True)
    comment = models.TextField("说明", max_length=4000, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["ledger", "at"], name="ledger_event_at")]

    ACTIONS = {
        "open": "建立写实簿",
        "sign": "签字",
        "paper": "登记纸质签字",
        "withdraw": "撤回签字",
        "note": "填写",
        "note_clear": "删除填写内容",
    }

    def __str__(self) -> str:
        return f"{self.ledger_id} {self.action}"

    @property
    def action_label(self) -> str:
        return self.ACTIONS.get(self.action, self.action)


class Lock(models.Model):
    """A record under a live signature: the triggers refuse a change to its signed columns.
    `until`: the last day the lock holds (the member's header holds through the ledger's year);
    None holds until the signature is withdrawn."""

    signature = models.ForeignKey(Signature, on_delete=models.CASCADE, related_name="locks")
    source = models.CharField("记录类别", max_length=16)
    object_id = models.BigIntegerField("记录编号")
    until = models.DateField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["source", "object_id"], name="lock_source_object")]

    def __str__(self) -> str:
        return f"{self.source}:{self.object_id}"


class LedgerFigure(FigureRow):
    """An organisation's own 写实簿 figures for a half-year (ledgers/figures.py): the members' ledgers
    a branch keeps and its own organisation ledger, and their sections signed against due."""

    member_owed = models.PositiveIntegerField("党员写实簿应建", default=0)
    member_open = models.PositiveIntegerField("党员写实簿已建", default=0)
    org_owed = models.PositiveIntegerField("党组织写实簿应建", default=0)
    org_open = models.PositiveIntegerField("党组织写实簿已建", default=0)
    m_pledges_due = models.PositiveIntegerField("党员承诺写实应签", default=0)
    m_pledges_signed = models.PositiveIntegerField("党员承诺写实已签", default=0)
    m_fulfilment_due = models.PositiveIntegerField("党员履诺写实应签", default=0)
    m_fulfilment_signed = models.PositiveIntegerField("党员履诺写实已签", default=0)
    m_review_due = models.PositiveIntegerField("党员领导点评应签", default=0)
    m_review_signed = models.PositiveIntegerField("党员领导点评已签", default=0)
    m_year_due = models.PositiveIntegerField("党员年度写实应签", default=0)
    m_year_signed = models.PositiveIntegerField("党员年度写实已签", default=0)
    o_pledges_due = models.PositiveIntegerField("党组织承诺写实应签", default=0)
    o_pledges_signed = models.PositiveIntegerField("党组织承诺写实已签", default=0)
    o_fulfilment_due = models.PositiveIntegerField("党组织履诺写实应签", default=0)
    o_fulfilment_signed = models.PositiveIntegerField("党组织履诺写实已签", default=0)
    o_review_due = models.PositiveIntegerField("党组织领导点评应签", default=0)
    o_review_signed = models.PositiveIntegerField("党组织领导点评已签", default=0)
    o_year_due = models.PositiveIntegerField("党组织年度写实应签", default=0)
    o_year_signed = models.PositiveIntegerField("党组织年度写实已签", default=0)

    class Meta:
        verbose_name = "写实簿统计数"
        verbose_name_plural = "写实簿统计数"
        constraints = [models.UniqueConstraint(fields=["period", "org"], name="ledger_figure_once")]
