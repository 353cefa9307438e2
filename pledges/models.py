from __future__ import annotations

import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q

from orgs.figures import FigureRow
from orgs.models import Member, Organization, Sector
from orgs.periods import HALF, QUARTER, Period
from orgs.rectifications import RectificationBase, RectificationStatus


class PledgeKind(models.TextChoices):
    ANNUAL = "annual", "年度承诺"
    IMMEDIATE = "immediate", "即时承诺"
    TERM = "term", "任期承诺"


class ImmediateReason(models.TextChoices):
    STAGE_TASK = "stage_task", "阶段性重点工作"
    TEMPORARY = "temporary", "临时性任务"
    EMERGENCY = "emergency", "突发性事件"


class Category(models.TextChoices):
    """The content areas the circulars name (黑创先办[2010]12号 §一.2, 浙创先发〔2010〕18号 §二,
    兵创先组发〔2011〕3号 §二)."""

    # organisations
    POLICY = "policy", "贯彻党的路线方针政策"
    CENTRAL_WORK = "central_work", "推动中心工作和科学发展"
    SERVE_PEOPLE = "serve_people", "服务群众、办实事解难事"
    HARD_TASKS = "hard_tasks", "完成急难险重任务"
    ORG_BUILDING = "org_building", "加强党组织和党员队伍建设"
    # members
    DUTY = "duty", "履行岗位职责、争创一流业绩"
    STYLE = "style", "改进工作作风、提高效能"
    SERVE_MASSES = "serve_masses", "联系和服务群众"
    COMMUNITY = "community", "在居住地社区发挥作用"
    PROSPERITY = "prosperity", "带头致富、带领群众共同致富"
    PRODUCTION = "production", "生产经营、技术创新、节能减排、安全生产"
    SERVICE_QUALITY = "service_quality", "优质服务、群众满意窗口"
    OTHER = "other", "其他"


ORG_CATEGORIES = [
    Category.POLICY,
    Category.CENTRAL_WORK,
    Category.SERVE_PEOPLE,
    Category.HARD_TASKS,
    Category.ORG_BUILDING,
    Category.OTHER,
]
MEMBER_CATEGORIES = [
    Category.DUTY,
    Category.STYLE,
    Category.SERVE_MASSES,
    Category.COMMUNITY,
    Category.PROSPERITY,
    Category.PRODUCTION,
    Category.SERVICE_QUALITY,
    Category.HARD_TASKS,
    Category.OTHER,
]
# What 兵创先组发〔2011〕3号 asks members of each kind of unit to pledge about.
SECTOR_HINTS = {
    Sector.RURAL: "农村党员：带头致富、带领群众共同致富、维护稳定",
    Sector.CORPS: "团场连队党员：带头致富、带领职工群众共同致富、维护团场连队稳定",
    Sector.COMMUNITY: "社区党员：服务社区群众、参与社区建设、维护社区稳定",
    Sector.STATE_ENTERPRISE: "企业党员：完成生产经营任务、技术创新、节能减排、安全生产",
    Sector.PRIVATE_ENTERPRISE: "企业党员：完成生产经营任务、技术创新、节能减排、安全生产",
    Sector.ORGAN: "机关党员：改进作风、提高效能、服务群众",
    Sector.INSTITUTION: "事业单位党员：改进作风、提高效能、服务群众；窗口单位：建设群众满意窗口、提高服务水平",
    Sector.SCHOOL: "学校党员：立足岗位教书育人、服务师生",
}


class PledgeStatus(models.TextChoices):
    DRAFT = "draft", "草稿"
    SUBMITTED = "submitted", "待审核"
    RETURNED = "returned", "退回修改"
    APPROVED = "approved", "已审定"
    PUBLISHED = "published", "已公示"
    EVALUATED = "evaluated", "已评诺"


class Progress(models.TextChoices):
    NOT_STARTED = "not_started", "未开始"
    IN_PROGRESS = "in_progress", "推进中"
    DONE = "done", "已完成"
    CANNOT = "cannot", "无法完成"


class EvaluationResult(models.TextChoices):
    FULFILLED = "fulfilled", "已兑现"
    PARTLY = "partly", "部分兑现"
    NOT_FULFILLED = "not_fulfilled", "未兑现"


# The status groups the pages, services and statistics share (the querysets and the model's
# booleans below read these; nothing else spells a list of statuses).
EDITABLE = (PledgeStatus.DRAFT, PledgeStatus.RETURNED)
UNVETTED = (PledgeStatus.DRAFT, PledgeStatus.SUBMITTED, PledgeStatus.RETURNED)
ACTIVE = (PledgeStatus.APPROVED, PledgeStatus.PUBLISHED)
PLEDGED = (PledgeStatus.APPROVED, PledgeStatus.PUBLISHED, PledgeStatus.EVALUATED)
PUBLIC = (PledgeStatus.PUBLISHED, PledgeStatus.EVALUATED)


class PledgeQuerySet(models.QuerySet):
    def editable(self) -> PledgeQuerySet:
        """Draft or returned: the writer may still change it."""
        return self.filter(status__in=EDITABLE)

    def unvetted(self) -> PledgeQuerySet:
        """Not yet approved (draft, submitted or returned)."""
        return self.filter(status__in=UNVETTED)

    def awaiting_vetting(self) -> PledgeQuerySet:
        return self.filter(status=PledgeStatus.SUBMITTED)

    def awaiting_publication(self) -> PledgeQuerySet:
        return self.filter(status=PledgeStatus.APPROVED)

    def active(self) -> PledgeQuerySet:
        """Approved or published: fulfilment is reported, it may be rectified or evaluated."""
        return self.filter(status__in=ACTIVE)

    def pledged(self) -> PledgeQuerySet:
        """Approved onwards: the owner has made this pledge (it counts as pledged)."""
        return self.filter(status__in=PLEDGED)

    def published(self) -> PledgeQuerySet:
        """Published or evaluated: on the public notice board."""
        return self.filter(status__in=PUBLIC)

    def evaluated(self) -> PledgeQuerySet:
        return self.filter(status=PledgeStatus.EVALUATED)

    def overdue(self, today: datetime.date) -> PledgeQuerySet:
        return self.active().filter(due_date__lt=today).exclude(progress=Progress.DONE)


class Pledge(models.Model):
    """A public pledge (公开承诺) of an organisation or of a member."""

    owner_org = models.ForeignKey(
        Organization,
        verbose_name="承诺组织",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="own_pledges",
    )
    owner_member = models.ForeignKey(
        Member,
        verbose_name="承诺党员",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="pledges",
    )
    # The organisation that vets, publishes and counts the pledge: the owner organisation, the
    # member's branch when the pledge was made, or the residential community's organisation.
    org = models.ForeignKey(
        Organization, verbose_name="所属党组织", on_delete=models.PROTECT, related_name="pledges"
    )
    is_community = models.BooleanField("在职党员社区承诺", default=False)
    year = models.PositiveSmallIntegerField("年度")
    kind = models.CharField("承诺类型", max_length=12, choices=PledgeKind.choices)
    immediate_reason = models.CharField(
        "即时承诺起因", max_length=12, choices=ImmediateReason.choices, blank=True
    )
    category = models.CharField("承诺类别", max_length=20, choices=Category.choices)
    content = models.TextField("承诺事项", max_length=2000)
    target = models.CharField("目标（可衡量）", max_length=300)
    due_date = models.DateField("完成时限")
    is_oral = models.BooleanField("口头承诺", default=False)
    status = models.CharField(
        "状态", max_length=12, choices=PledgeStatus.choices, default=PledgeStatus.DRAFT
    )
    progress = models.CharField(
        "兑现进度", max_length=12, choices=Progress.choices, default=Progress.NOT_STARTED
    )
    published_on = models.DateField("公示日期", null=True, blank=True)
    result = models.CharField(
        "评诺结果", max_length=16, choices=EvaluationResult.choices, blank=True
    )
    result_remark = models.CharField("评诺意见", max_length=500, blank=True)
    previous = models.ForeignKey(
        "self",
        verbose_name="原承诺（再承诺）",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="follow_ups",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PledgeQuerySet.as_manager()

    class Meta:
        verbose_name = "公开承诺"
        verbose_name_plural = "公开承诺"
        constraints = [
            models.CheckConstraint(
                condition=(Q(owner_org__isnull=False) & Q(owner_member__isnull=True))
                | (Q(owner_org__isnull=True) & Q(owner_member__isnull=False)),
                name="pledge_one_owner",
            )
        ]
        indexes = [
            models.Index(fields=["year", "org", "status"], name="pledge_year_org_status"),
            models.Index(fields=["org", "status"], name="pledge_org_status"),
            models.Index(fields=["year", "status", "due_date"], name="pledge_year_status_due"),
            models.Index(fields=["owner_member", "year"], name="pledge_member_year"),
            models.Index(fields=["owner_org", "year"], name="pledge_ownerorg_year"),
        ]

    def __str__(self) -> str:
        return f"{self.owner_name}：{self.content[:30]}"

    @property
    def owner_name(self) -> str:
        return self.owner_org.name if self.owner_org_id else self.owner_member.name

    @property
    def is_member_pledge(self) -> bool:
        return self.owner_member_id is not None

    @property
    def period_kind(self) -> str:
        """Members report fulfilment quarterly, organisations half-yearly (orgs.periods kinds)."""
        return QUARTER if self.is_member_pledge else HALF

    def periods(self) -> list[Period]:
        """The reporting periods of the pledge's year."""
        return Period.all_of(self.year, self.period_kind)

    def reporting_periods(self, today: datetime.date) -> list[Period]:
        """The reporting periods of the pledge's year that have begun by `today`."""
        return [period for period in self.periods() if period.has_begun(today)]

    def is_overdue(self, today: datetime.date) -> bool:
        return self.is_active and self.due_date < today and not self.is_done

    # The lifecycle rules the pages and the services share (templates read these, never the
    # status strings).
    @property
    def is_editable(self) -> bool:
        return self.status in EDITABLE

    @property
    def is_unvetted(self) -> bool:
        return self.status in UNVETTED

    @property
    def is_awaiting_vetting(self) -> bool:
        """Submitted and not yet vetted: it may be approved, returned or withdrawn."""
        return self.status == PledgeStatus.SUBMITTED

    @property
    def is_awaiting_publication(self) -> bool:
        """Approved and not yet published: it may be published, or the vetter may still take
        the approval back."""
        return self.status == PledgeStatus.APPROVED

    @property
    def is_active(self) -> bool:
        """Approved or published: fulfilment is reported, and it may be rectified or evaluated."""
        return self.status in ACTIVE

    @property
    def is_pledged(self) -> bool:
        """Approved onwards: counts as pledged (need no 补课)."""
        return self.status in PLEDGED

    @property
    def is_published(self) -> bool:
        """Published or evaluated: on the public notice board."""
        return self.status in PUBLIC

    @property
    def is_evaluated(self) -> bool:
        return self.status == PledgeStatus.EVALUATED

    @property
    def is_done(self) -> bool:
        return self.progress == Progress.DONE

    @property
    def may_repledge(self) -> bool:
        """承诺—践诺—评诺—再承诺: only a fulfilled pledge is followed by a new one; once evaluated,
        the evaluation decides (a pledge reported done but evaluated 部分兑现 is not fulfilled)."""
        if self.result:
            return self.result == EvaluationResult.FULFILLED
        return self.progress == Progress.DONE


EVENT_LABELS = {
    "create": "提出承诺",
    "repledge": "再承诺",
    "update": "修改",
    "submit": "提交审核",
    "approve": "审定通过",
    "return": "退回修改",
    "publish": "公示",
    "fulfil": "填报兑现情况",
    "rectify": "下达整改",
    "rectify_report": "报告整改情况",
    "rectify_close": "整改销号",
    "rectify_reopen": "整改重新打开",
    "evaluate": "评诺",
    "withdraw": "撤回提交",
    "reopen": "撤销审定",
    "undo_done": "撤销“已完成”",
    "transfer": "组织关系转接",
}


class PledgeEvent(models.Model):
    """The history of a pledge: who, when, from → to, comment."""

    pledge = models.ForeignKey(Pledge, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(auto_now_add=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField("操作", max_length=20)
    from_status = models.CharField(max_length=12, blank=True)
    to_status = models.CharField(max_length=12, blank=True)
    comment = models.CharField("意见", max_length=1000, blank=True)
    # for edits: {field: [old, new]}, so that every round of a returned pledge stays readable
    changes = models.JSONField("修改内容", default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.pledge_id} {self.action}"

    @property
    def change_lines(self) -> list[str]:
        labels = {
            f.name: f.verbose_name for f in Pledge._meta.get_fields() if hasattr(f, "verbose_name")
        }
        labels.update(text="兑现情况")
        return [
            f"{labels.get(name, name)}：“{old}” → “{new}”"
            for name, (old, new) in self.changes.items()
        ]

    @property
    def action_label(self) -> str:
        return EVENT_LABELS.get(self.action, self.action)

    @property
    def from_label(self) -> str:
        return PledgeStatus(self.from_status).label if self.from_status else ""

    @property
    def to_label(self) -> str:
        return PledgeStatus(self.to_status).label if self.to_status else ""


class Fulfilment(models.Model):
    """承诺兑现情况 for one pledge and one period (quarter for members, half-year for orgs)."""

    pledge = models.ForeignKey(Pledge, on_delete=models.CASCADE, related_name="fulfilments")
    org = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    year = models.PositiveSmallIntegerField("年度")
    period = models.PositiveSmallIntegerField("期次")  # quarter 1–4 or half-year 1–2
    text = models.TextField("兑现情况", max_length=2000)
    status = models.CharField("进度", max_length=12, choices=Progress.choices)
    reason = models.CharField("无法完成的原因", max_length=500, blank=True)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "承诺兑现情况"
        verbose_name_plural = "承诺兑现情况"
        ordering = ["year", "period"]
        constraints = [
            models.UniqueConstraint(fields=["pledge", "year", "period"], name="fulfilment_once")
        ]
        indexes = [models.Index(fields=["year", "period", "org"], name="fulfilment_period_org")]

    def __str__(self) -> str:
        return f"{self.pledge_id} {self.period_obj}"

    @property
    def period_obj(self) -> Period:
        """The stored (year, number) as a Period of the pledge's kind (quarter or half-year)."""
        return Period(self.year, self.pledge.period_kind, self.period)


def attachment_path(instance, filename: str) -> str:
    return f"pledges/{instance.stored_name}"


class Attachment(models.Model):
    fulfilment = models.ForeignKey(Fulfilment, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=attachment_path, max_length=200)
    stored_name = models.CharField(max_length=80, unique=True)
    original_name = models.CharField("文件名", max_length=200)
    content_type = models.CharField(max_length=40)
    size = models.PositiveIntegerField()
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.original_name


class RectificationQuerySet(models.QuerySet):
    def open(self) -> RectificationQuerySet:
        """Not yet closed (a reported item stays open until the issuer closes it)."""
        return self.exclude(status=RectificationStatus.CLOSED)


class Rectification(RectificationBase):
    """整改: a deadline set on an organisation or member over an overdue pledge (the fields and
    the lifecycle are the shared ones of orgs.rectifications)."""

    pledge = models.ForeignKey(Pledge, on_delete=models.CASCADE, related_name="rectifications")

    objects = RectificationQuerySet.as_manager()

    class Meta:
        verbose_name = "整改"
        verbose_name_plural = "整改"
        indexes = [models.Index(fields=["status", "deadline"], name="rectification_open")]

    def __str__(self) -> str:
        return f"整改：{self.pledge}"


class SecretaryPledgeStatus(models.TextChoices):
    DRAFT = "draft", "草稿"
    SUBMITTED = "submitted", "待上级审定"
    RETURNED = "returned", "退回修改"
    APPROVED = "approved", "已审定"


class SecretaryPledge(models.Model):
    """党组织书记公开承诺书 (豫创组发〔2010〕22号 附件2)."""

    org = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="secretary_pledges"
    )
    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="secretary_pledges")
    year = models.PositiveSmallIntegerField("年度")
    post = models.CharField("职务", max_length=100)
    term_start = models.DateField("任职时间")
    contact = models.CharField("联系方式", max_length=50)
    content = models.TextField("公开承诺事项", max_length=4000)
    status = models.CharField(
        max_length=10, choices=SecretaryPledgeStatus.choices, default=SecretaryPledgeStatus.DRAFT
    )
    signed_on = models.DateField("签字日期", null=True, blank=True)
    upper_opinion = models.CharField("上一级党组织审定意见", max_length=1000, blank=True)
    upper_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    upper_on = models.DateField("审定日期", null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "党组织书记公开承诺书"
        verbose_name_plural = "党组织书记公开承诺书"
        constraints = [
            models.UniqueConstraint(fields=["org", "year"], name="secretary_pledge_once")
        ]

    def __str__(self) -> str:
        return f"{self.org} {self.year}年书记承诺书"

    # The lifecycle rules the pages and the services share.
    @property
    def is_editable(self) -> bool:
        """Draft or returned: the secretary may still change and sign it."""
        return self.status in (SecretaryPledgeStatus.DRAFT, SecretaryPledgeStatus.RETURNED)

    @property
    def is_returned(self) -> bool:
        return self.status == SecretaryPledgeStatus.RETURNED

    @property
    def is_awaiting_review(self) -> bool:
        return self.status == SecretaryPledgeStatus.SUBMITTED

    @property
    def is_approved(self) -> bool:
        """Approved upstairs: quarterly reports are due."""
        return self.status == SecretaryPledgeStatus.APPROVED

    def quarters(self) -> list[Period]:
        return Period.all_of(self.year, QUARTER)

    def quarter_reports(self) -> list[tuple[Period, SecretaryReport | None]]:
        """Each quarter of the year with its report, if any (reads `reports`, so prefetch it)."""
        reports = {report.quarter: report for report in self.reports.all()}
        return [(period, reports.get(period.number)) for period in self.quarters()]


class SecretaryPledgeEvent(models.Model):
    """The history of a secretary's pledge letter: every save, submission, opinion and report."""

    letter = models.ForeignKey(SecretaryPledge, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(auto_now_add=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField("操作", max_length=20)
    from_status = models.CharField(max_length=10, blank=True)
    to_status = models.CharField(max_length=10, blank=True)
    comment = models.TextField("内容", max_length=4000, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.letter_id} {self.action}"

    @property
    def action_label(self) -> str:
        return {
            "save": "保存",
            "submit": "签字提交",
            "approve": "审定通过",
            "return": "退回修改",
            "report": "报送季度落实情况",
        }.get(self.action, self.action)


class SecretaryReport(models.Model):
    """A quarterly progress report of a secretary's pledge, due before the quarter ends."""

    pledge = models.ForeignKey(SecretaryPledge, on_delete=models.CASCADE, related_name="reports")
    quarter = models.PositiveSmallIntegerField("季度")
    text = models.TextField("落实推进情况", max_length=4000)
    measures = models.TextField("践诺措施及完成时限", max_length=2000)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    submitted_at = models.DateTimeField(auto_now=True)
    is_late = models.BooleanField("逾期报送", default=False)

    class Meta:
        ordering = ["quarter"]
        constraints = [
            models.UniqueConstraint(fields=["pledge", "quarter"], name="secretary_report_once")
        ]

    def __str__(self) -> str:
        return f"{self.pledge} {self.period.short_label}"

    @property
    def period(self) -> Period:
        return Period.quarter(self.pledge.year, self.quarter)


class PledgeFigure(FigureRow):
    """An organisation's own 公开承诺 figures for a year (pledges/figures.py computes them)."""

    orgs_owed = models.PositiveIntegerField("应承诺党组织", default=0)
    orgs_pledged = models.PositiveIntegerField("已承诺党组织", default=0)
    orgs_annual = models.PositiveIntegerField("作年度承诺的党组织", default=0)
    orgs_immediate = models.PositiveIntegerField("作即时承诺的党组织", default=0)
    orgs_term = models.PositiveIntegerField("作任期承诺的党组织", default=0)
    members_owed = models.PositiveIntegerField("应承诺党员", default=0)
    members_pledged = models.PositiveIntegerField("已承诺党员", default=0)
    members_oral = models.PositiveIntegerField("口头承诺党员", default=0)
    members_community = models.PositiveIntegerField("在职党员社区承诺", default=0)
    items = models.PositiveIntegerField("承诺事项", default=0)
    items_approved = models.PositiveIntegerField("已审定", default=0)
    items_published = models.PositiveIntegerField("已公示", default=0)
    fulfilled = models.PositiveIntegerField("已兑现", default=0)
    partly = models.PositiveIntegerField("部分兑现", default=0)
    not_fulfilled = models.PositiveIntegerField("未兑现", default=0)
    overdue = models.PositiveIntegerField("超期未完成", default=0)
    rect_open = models.PositiveIntegerField("整改中", default=0)
    rect_closed = models.PositiveIntegerField("整改已销号", default=0)
    makeup_orgs = models.PositiveIntegerField("需补课党组织", default=0)
    makeup_members = models.PositiveIntegerField("需补课党员", default=0)

    class Meta:
        verbose_name = "公开承诺统计数"
        verbose_name_plural = "公开承诺统计数"
        constraints = [models.UniqueConstraint(fields=["period", "org"], name="pledge_figure_once")]
