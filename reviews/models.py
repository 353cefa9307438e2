from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from orgs.figures import FigureRow
from orgs.models import MEMBER_HOLDING_KINDS, Member, Organization
from orgs.periods import HALF, QUARTER, Period
from orgs.rectifications import RectificationBase, RectificationStatus


class SubjectKind(models.TextChoices):
    ORG = "org", "党组织"
    SECRETARY = "secretary", "党组织书记"
    MEMBER = "member", "党员"


class Method(models.TextChoices):
    CENTRAL = "central", "集中点评"
    INDIVIDUAL = "individual", "个别点评"
    ONSITE = "onsite", "现场点评"
    RANDOM = "random", "随机点评"


class ReviewStatus(models.TextChoices):
    DRAFT = "draft", "草稿"
    SIGNED = "signed", "已签字"
    SUPERSEDED = "superseded", "已更正（旧版本）"


PERIOD_KINDS = [(QUARTER, "季度"), (HALF, "半年")]
REVIEWABLE_KINDS = MEMBER_HOLDING_KINDS  # 基层党委, 党总支, 党支部: reviewed half-yearly


class PeriodFields(models.Model):
    year = models.PositiveSmallIntegerField("年度")
    period_kind = models.CharField("期别", max_length=1, choices=PERIOD_KINDS)
    period = models.PositiveSmallIntegerField("期次")

    class Meta:
        abstract = True

    @property
    def period_obj(self) -> Period:
        return Period(self.year, self.period_kind, self.period)

    @property
    def period_label(self) -> str:
        return self.period_obj.label


class PeriodQuerySet(models.QuerySet):
    def in_period(self, period: Period):
        return self.filter(year=period.year, period_kind=period.kind, period=period.number)


LIVE_STATUSES = (ReviewStatus.DRAFT, ReviewStatus.SIGNED)


class LeaderReviewQuerySet(PeriodQuerySet):
    def live(self):
        """Draft or signed: a version replaced by its correction is not live."""
        return self.filter(status__in=LIVE_STATUSES)

    def signed(self):
        return self.filter(status=ReviewStatus.SIGNED)

    def drafts(self):
        return self.filter(status=ReviewStatus.DRAFT)

    def not_by_subject(self):
        """Leave out reviews a member wrote of themselves (see LeaderReview.by_subject)."""
        return self.filter(by_subject=False)


class LeaderReview(PeriodFields):
    """领导点评 — the 点评意见表: 成绩, 不足, 努力方向, signed by the reviewer."""

    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="点评人", on_delete=models.PROTECT, related_name="+"
    )
    reviewer_name = models.CharField("点评人姓名", max_length=50)
    reviewer_post = models.CharField("点评人职务", max_length=100)
    reviewer_org = models.ForeignKey(
        Organization, verbose_name="点评人所在组织", on_delete=models.PROTECT, related_name="+"
    )
    subject_kind = models.CharField("点评对象类别", max_length=10, choices=SubjectKind.choices)
    subject_org = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.PROTECT, related_name="reviews"
    )
    subject_member = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.PROTECT, related_name="reviews"
    )
    # the organisation the review counts for: the member's branch at the period's end, or the
    # organisation reviewed (itself or through its secretary)
    org = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    method = models.CharField("点评方式", max_length=12, choices=Method.choices)
    reviewed_on = models.DateField("点评日期")
    achievements = models.TextField("成绩", max_length=3000)
    shortcomings = models.TextField("不足", max_length=3000)
    direction = models.TextField("努力方向", max_length=3000)
    scope = models.CharField("通报范围", max_length=200, blank=True)
    status = models.CharField(
        max_length=12, choices=ReviewStatus.choices, default=ReviewStatus.DRAFT
    )
    version = models.PositiveSmallIntegerField("版本", default=1)
    # A review of a member written by that member's own login. The service refuses these now;
    # the flag marks those kept from before, so counts leave them out without joining members.
    by_subject = models.BooleanField("本人点评本人", db_default=False, editable=False)
    previous = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="correction"
    )
    signed_at = models.DateTimeField("签字时间", null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = LeaderReviewQuerySet.as_manager()

    class Meta:
        verbose_name = "领导点评"
        verbose_name_plural = "领导点评"
        indexes = [
            models.Index(
                fields=["year", "period_kind", "period", "org", "status"], name="review_period_org"
            ),
            models.Index(fields=["subject_member", "year"], name="review_member_year"),
            models.Index(fields=["subject_org", "year"], name="review_org_year"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(Q(subject_kind="member") & Q(subject_member__isnull=False))
                | (Q(subject_kind="org") & Q(subject_org__isnull=False))
                | (Q(subject_kind="secretary") & Q(subject_org__isnull=False)),
                name="review_subject_present",
            ),
            # One live review (draft or signed) per period, subject and reviewing organisation;
            # a correction is the next version, so it may be drafted beside the signed one.
            # Members and organisations apart: the other subject column is NULL, and NULLs
            # never collide in a unique index.
            models.UniqueConstraint(
                fields=[
                    "year",
                    "period_kind",
                    "period",
                    "reviewer_org",
                    "subject_member",
                    "version",
                ],
                condition=Q(subject_kind="member", status__in=["draft", "signed"]),
                name="review_one_live_member",
            ),
            models.UniqueConstraint(
                fields=[
                    "year",
                    "period_kind",
                    "period",
                    "reviewer_org",
                    "subject_kind",
                    "subject_org",
                    "version",
                ],
                condition=Q(subject_kind__in=["org", "secretary"], status__in=["draft", "signed"]),
                name="review_one_live_org",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subject_name} {self.period_label}"

    @property
    def is_draft(self) -> bool:
        return self.status == ReviewStatus.DRAFT

    @property
    def is_signed(self) -> bool:
        return self.status == ReviewStatus.SIGNED

    @property
    def is_superseded(self) -> bool:
        return self.status == ReviewStatus.SUPERSEDED

    @property
    def is_about_member(self) -> bool:
        return self.subject_kind == SubjectKind.MEMBER

    @property
    def subject_name(self) -> str:
        if self.subject_kind == SubjectKind.MEMBER:
            return self.subject_member.name
        if self.subject_kind == SubjectKind.SECRETARY:
            name = self.subject_member.name if self.subject_member_id else "书记"
            return f"{self.subject_org.name}书记{name}"
        return self.subject_org.name


class ReviewEvent(models.Model):
    review = models.ForeignKey(LeaderReview, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(auto_now_add=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=20)
    comment = models.TextField(max_length=2000, blank=True)
    changes = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.review_id} {self.action}"

    @property
    def action_label(self) -> str:
        return {
            "create": "起草",
            "update": "修改",
            "sign": "签字",
            "correct": "更正（新版本）",
            "rectify": "提出整改",
            "rectify_report": "报告整改情况",
            "rectify_close": "整改销号",
            "rectify_reopen": "整改重新打开",
        }.get(self.action, self.action)


class ReviewRectificationQuerySet(models.QuerySet):
    def open(self):
        """Not yet closed: open, or reported and waiting for the reviewer to close it."""
        return self.exclude(status=RectificationStatus.CLOSED)


class ReviewRectification(RectificationBase):
    """A rectification item set from a review (兵创先组发〔2011〕3号 steps 三, 四); `org` is the
    review's (the member's branch, or the organisation reviewed)."""

    review = models.ForeignKey(LeaderReview, on_delete=models.CASCADE, related_name="items")

    objects = ReviewRectificationQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["status", "deadline"], name="review_item_open")]

    def __str__(self) -> str:
        return self.requirement


class Exemption(PeriodFields):
    """An obligation waived for a period, with a reason, by the reviewer's parent."""

    subject_kind = models.CharField(max_length=10, choices=SubjectKind.choices)
    subject_org = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    subject_member = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField("免予点评原因", max_length=300)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True)

    objects = PeriodQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "year",
                    "period_kind",
                    "period",
                    "subject_kind",
                    "subject_org",
                    "subject_member",
                ],
                name="exemption_once",
            )
        ]

    def __str__(self) -> str:
        return self.reason


class RandomDraw(models.Model):
    """随机点评: a sample of organisations drawn from a subtree with a recorded seed."""

    scope = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True)
    size = models.PositiveSmallIntegerField("抽取数量")
    seed = models.CharField("随机种子", max_length=64)
    population = models.PositiveIntegerField("候选组织数")
    picked = models.JSONField("抽中的组织", default=list)
    candidates = models.JSONField("候选组织", default=list)

    def __str__(self) -> str:
        return f"{self.scope} {self.at:%Y-%m-%d}"


# Democratic appraisal lives in its own package; importing it here registers its models.
from reviews.appraisal.models import (  # noqa: E402, F401
    Appraisal,
    AppraisalEvent,
    AppraisalSubject,
    Ballot,
    PaperCount,
    PaperEntry,
    Slip,
)


class ReviewFigure(FigureRow):
    """An organisation's own 领导点评 figures for a quarter (reviews/figures.py computes them).

    Member columns count the quarter; organisation and secretary columns count the half-year
    the quarter falls in (org reviews are half-yearly), so both quarters of a half carry them."""

    members_owed = models.PositiveIntegerField("党员应点评", default=0)
    members_reviewed = models.PositiveIntegerField("党员已点评", default=0)
    orgs_owed = models.PositiveIntegerField("基层党组织应点评", default=0)
    orgs_reviewed = models.PositiveIntegerField("基层党组织已点评", default=0)
    secretaries_owed = models.PositiveIntegerField("党组织书记应点评", default=0)
    secretaries_reviewed = models.PositiveIntegerField("党组织书记已点评", default=0)
    reviewers_owed = models.PositiveIntegerField("应作点评的书记", default=0)
    reviewers_done = models.PositiveIntegerField("点评全部完成的书记", default=0)
    by_central = models.PositiveIntegerField("集中点评", default=0)
    by_individual = models.PositiveIntegerField("个别点评", default=0)
    by_onsite = models.PositiveIntegerField("现场点评", default=0)
    by_random = models.PositiveIntegerField("随机点评", default=0)
    rect_raised = models.PositiveIntegerField("整改事项提出", default=0)
    rect_closed = models.PositiveIntegerField("整改事项已销号", default=0)
    rect_overdue = models.PositiveIntegerField("整改事项逾期", default=0)
    exempt_members = models.PositiveIntegerField("免予点评党员", default=0)
    exempt_orgs = models.PositiveIntegerField("免予点评党组织及书记", default=0)

    class Meta:
        verbose_name = "领导点评统计数"
        verbose_name_plural = "领导点评统计数"
        constraints = [models.UniqueConstraint(fields=["period", "org"], name="review_figure_once")]
