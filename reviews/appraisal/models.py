"""Democratic appraisal records. Imported by reviews.models, so they belong to the reviews app."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from orgs.figures import FigureRow
from orgs.models import Member, Organization


class AppraisalKind(models.TextChoices):
    MEMBER = "member", "民主评议党员"
    ORG = "org", "民主评议基层党组织"


class AppraisalState(models.TextChoices):
    PLAN = "plan", "确定方案"
    STATEMENTS = "statements", "公开述职"
    VOTING = "voting", "组织评议"
    CLOSED = "closed", "评议结束"
    PUBLISHED = "published", "公开结果"


class VotingMethod(models.TextChoices):
    CODE = "code", "手机扫码投票"
    PAPER = "paper", "纸质评议表"
    BOTH = "both", "扫码与纸质并用"


class Group(models.TextChoices):
    """Participant groups. 党员 and 下级党组织负责人 count as 参加党员人数, the others as 参加群众人数."""

    MEMBER = "member", "党员"
    MASSES = "masses", "群众（代表）"
    LEADER = "leader", "下级党组织负责人"
    RECIPIENT = "recipient", "服务对象代表"


PARTY_GROUPS = frozenset({Group.MEMBER, Group.LEADER})
# Fewer ballots than this in a participant group: the group is never shown apart, to anyone; in a
# whole session: its counts are shown to the running secretary only.
SMALL_GROUP = 5
GROUPS_FOR = {
    AppraisalKind.MEMBER: (Group.MEMBER, Group.MASSES),
    AppraisalKind.ORG: (Group.MEMBER, Group.MASSES, Group.LEADER, Group.RECIPIENT),
}

# The two four-grade scales of the 评议表; grades are stored as 1 (best) to 4, blank as 0.
SCALES = {
    AppraisalKind.ORG: ("满意", "比较满意", "一般", "不满意"),
    AppraisalKind.MEMBER: ("好", "较好", "一般", "差"),
}
GRADES = (1, 2, 3, 4)


class ResultGrade(models.TextChoices):
    EXCELLENT = "excellent", "优秀"
    PASS = "pass", "合格"
    BASIC = "basic", "基本合格"
    FAIL = "fail", "不合格"


class AppraisalQuerySet(models.QuerySet):
    def counted(self) -> AppraisalQuerySet:
        """Sessions whose voting has ended and been counted (closed or published)."""
        return self.filter(state__in=[AppraisalState.CLOSED, AppraisalState.PUBLISHED])

    def published(self) -> AppraisalQuerySet:
        return self.filter(state=AppraisalState.PUBLISHED)

    def awaiting_runner(self) -> AppraisalQuerySet:
        """Sessions whose running secretary has something to do: voting to close, or results to
        decide and publish."""
        return self.filter(state__in=[AppraisalState.VOTING, AppraisalState.CLOSED])


class Appraisal(models.Model):
    """One yearly appraisal session (评议会) of an organisation."""

    public_id = models.CharField("投票链接编号", max_length=16, unique=True)
    kind = models.CharField("评议类别", max_length=8, choices=AppraisalKind.choices)
    org = models.ForeignKey(
        Organization,
        verbose_name="组织评议的党组织",
        on_delete=models.PROTECT,
        related_name="appraisals",
    )
    year = models.PositiveSmallIntegerField("年度")
    state = models.CharField(
        "阶段", max_length=12, choices=AppraisalState.choices, default=AppraisalState.PLAN
    )
    held_on = models.DateField("评议日期")
    place = models.CharField("评议地点", max_length=100)
    method = models.CharField("评议方式", max_length=8, choices=VotingMethod.choices)
    content = models.TextField("评议内容", max_length=2000)
    expected_member = models.PositiveIntegerField("应参加党员人数", default=0)
    expected_masses = models.PositiveIntegerField("应参加群众（代表）人数", default=0)
    expected_leader = models.PositiveIntegerField("应参加下级党组织负责人人数", default=0)
    expected_recipient = models.PositiveIntegerField("应参加服务对象代表人数", default=0)
    subject_count = models.PositiveIntegerField("评议对象数", default=0)
    # 暂缓评议: subjects left out of this session by the plan, {"m<member id>" or "o<org id>":
    # {"name": …, "reason": …}} (e.g. long illness, working far away)
    excluded = models.JSONField("暂缓评议", default=dict, blank=True)
    slip_salt = models.CharField(max_length=32)
    # frozen at closing: the tally as counted and the SHA-256 of the records it was counted from
    tally = models.JSONField("计票结果", default=dict, blank=True)
    digest = models.CharField("计票摘要", max_length=64, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    closed_at = models.DateTimeField("计票时间", null=True, blank=True)
    published_at = models.DateTimeField("公开时间", null=True, blank=True)
    # frozen at publication: fewer took part than the rule's share of those expected, so nobody
    # from this session is suggested for 评先评优
    low_turnout = models.BooleanField("参加率偏低", default=False)

    objects = AppraisalQuerySet.as_manager()

    class Meta:
        verbose_name = "民主评议"
        verbose_name_plural = "民主评议"
        constraints = [
            models.UniqueConstraint(fields=["org", "kind", "year"], name="appraisal_once_a_year")
        ]

    def __str__(self) -> str:
        return f"{self.org.name} {self.year}年{self.get_kind_display()}"

    @property
    def scale(self) -> tuple[str, ...]:
        return SCALES[self.kind]

    @property
    def groups(self) -> tuple[Group, ...]:
        return GROUPS_FOR[self.kind]

    def expected(self, group: str) -> int:
        return getattr(self, f"expected_{group}")

    @property
    def expected_total(self) -> int:
        return sum(self.expected(str(g)) for g in self.groups)

    @property
    def small_expected_groups(self) -> list[str]:
        """Groups the plan expects fewer than SMALL_GROUP people of (but some): their ballots
        will only count in the totals, never be shown apart."""
        return [g.label for g in self.groups if 0 < self.expected(str(g)) < SMALL_GROUP]

    @property
    def participants(self) -> int | None:
        """Everyone who handed in a sheet (spoiled ones too), from the tally; None before closing."""
        if not self.tally:
            return None
        return self.tally.get("party_participants", 0) + self.tally.get("mass_participants", 0)

    @property
    def turnout_percent(self) -> int | None:
        """参加率: participants over the plan's expected numbers, in whole per cent (rounded half
        up), as shown; None before closing or with nobody expected."""
        participants, expected = self.participants, self.expected_total
        if participants is None or not expected:
            return None
        return (participants * 200 + expected) // (2 * expected)

    @property
    def uses_codes(self) -> bool:
        return self.method in (VotingMethod.CODE, VotingMethod.BOTH)

    @property
    def uses_paper(self) -> bool:
        return self.method in (VotingMethod.PAPER, VotingMethod.BOTH)

    @property
    def appraises_members(self) -> bool:
        return self.kind == AppraisalKind.MEMBER

    @property
    def appraises_orgs(self) -> bool:
        return self.kind == AppraisalKind.ORG

    @property
    def steps(self) -> list[tuple[str, bool]]:
        """The four steps and 评议结束, each with whether the session is at it."""
        return [(label, value == self.state) for value, label in AppraisalState.choices]

    @property
    def is_planned(self) -> bool:
        """确定方案: the plan, and the subjects it lists, may still change."""
        return self.state == AppraisalState.PLAN

    @property
    def is_hearing_statements(self) -> bool:
        """公开述职: statements are written; voting has not opened."""
        return self.state == AppraisalState.STATEMENTS

    @property
    def accepts_statements(self) -> bool:
        """A 述职 may be written from 公开述职 until voting ends."""
        return self.state in (AppraisalState.STATEMENTS, AppraisalState.VOTING)

    @property
    def is_voting(self) -> bool:
        return self.state == AppraisalState.VOTING

    @property
    def is_counted(self) -> bool:
        """Voting has ended and the ballots are counted (closed or published)."""
        return self.state in (AppraisalState.CLOSED, AppraisalState.PUBLISHED)

    @property
    def may_issue_slips(self) -> bool:
        """Slips are printed and voided for a session by code until its voting ends."""
        return self.uses_codes and not self.is_counted

    @property
    def is_published(self) -> bool:
        return self.state == AppraisalState.PUBLISHED

    @property
    def is_closed(self) -> bool:
        """Counted, not yet published: the committee decides, then publishes."""
        return self.state == AppraisalState.CLOSED


class AppraisalSubject(models.Model):
    """A member or an organisation appraised in the session, with its 述职 and its result."""

    appraisal = models.ForeignKey(Appraisal, on_delete=models.CASCADE, related_name="subjects")
    position = models.PositiveIntegerField("序号")
    member = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.PROTECT, related_name="appraisals"
    )
    subject_org = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.PROTECT, related_name="appraised"
    )
    name = models.CharField("评议对象", max_length=100)
    statement = models.TextField("述职报告", max_length=3000, blank=True)
    statement_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    statement_at = models.DateTimeField("述职时间", null=True, blank=True)
    # written at closing from the tally: [好/满意, 较好/比较满意, 一般, 差/不满意, 弃权]
    counts = models.JSONField("票数", default=list, blank=True)
    suggested_grade = models.CharField(
        "建议等次", max_length=10, choices=ResultGrade.choices, blank=True
    )
    final_grade = models.CharField(
        "评议结果", max_length=10, choices=ResultGrade.choices, blank=True
    )
    override_reason = models.CharField("调整理由", max_length=500, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField("认定时间", null=True, blank=True)

    class Meta:
        verbose_name = "评议对象"
        verbose_name_plural = "评议对象"
        ordering = ["appraisal", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["appraisal", "position"], name="appraisal_subject_position"
            ),
            models.UniqueConstraint(
                fields=["appraisal", "member"],
                condition=Q(member__isnull=False),
                name="appraisal_subject_member_once",
            ),
            models.UniqueConstraint(
                fields=["appraisal", "subject_org"],
                condition=Q(subject_org__isnull=False),
                name="appraisal_subject_org_once",
            ),
            models.CheckConstraint(
                condition=Q(member__isnull=False) | Q(subject_org__isnull=False),
                name="appraisal_subject_present",
            ),
        ]
        indexes = [models.Index(fields=["subject_org"], name="appraisal_subject_org")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_decided(self) -> bool:
        """The committee has set the result grade."""
        return bool(self.final_grade)

    @property
    def awaits_suggested_grade(self) -> bool:
        """Not yet decided, with a suggestion the committee may adopt as it is."""
        return not self.final_grade and bool(self.suggested_grade)

    @property
    def is_excellent(self) -> bool:
        return self.final_grade == ResultGrade.EXCELLENT

    @property
    def graded(self) -> int:
        return sum(self.counts[:4]) if self.counts else 0

    @property
    def satisfaction(self) -> float | None:
        """满意率: (满意 + 比较满意) over the ballots that graded the subject (blanks left out)."""
        graded = self.graded
        return (self.counts[0] + self.counts[1]) / graded if graded else None


class Slip(models.Model):
    """A one-time voting code handed out at the meeting. Only its serial, the group printed on it,
    a hash of its secret and whether it has been used are kept: never who had it or when."""

    appraisal = models.ForeignKey(Appraisal, on_delete=models.CASCADE, related_name="slips")
    serial = models.PositiveIntegerField("编号")
    group = models.CharField("参加人员类别", max_length=10, choices=Group.choices)
    secret_hash = models.CharField(max_length=64)
    used = models.BooleanField("已使用", default=False)
    voided = models.BooleanField("已作废", default=False)

    class Meta:
        verbose_name = "选票码"
        verbose_name_plural = "选票码"
        constraints = [
            models.UniqueConstraint(fields=["appraisal", "serial"], name="slip_serial_once")
        ]

    def __str__(self) -> str:
        return f"选票码 {self.serial:04d}"


class Ballot(models.Model):
    """One cast 评议表. Its id is random; it holds the group printed on the slip and the grades by
    subject position ("1"–"4", "0" for blank) — nothing about the slip, the voter or the moment."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    appraisal = models.ForeignKey(Appraisal, on_delete=models.PROTECT, related_name="ballots")
    group = models.CharField("参加人员类别", max_length=10, choices=Group.choices)
    marks = models.TextField("评价")

    class Meta:
        verbose_name = "评议票"
        verbose_name_plural = "评议票"

    def __str__(self) -> str:
        return "评议票"


class PaperFigures(models.Model):
    """What tellers count from one group's paper sheets."""

    FIELDS = ("sheets_issued", "sheets_returned", "blank_sheets", "spoiled_sheets", "counts")

    group = models.CharField("参加人员类别", max_length=10, choices=Group.choices)
    sheets_issued = models.PositiveIntegerField("发出评议表")
    sheets_returned = models.PositiveIntegerField("收回评议表")
    blank_sheets = models.PositiveIntegerField("空白表")
    spoiled_sheets = models.PositiveIntegerField("废表")
    # by subject position: [grade 1, grade 2, grade 3, grade 4, blank] among the valid sheets
    counts = models.JSONField("票数")

    class Meta:
        abstract = True

    def figures(self) -> dict:
        return {name: getattr(self, name) for name in self.FIELDS}

    @property
    def valid_sheets(self) -> int:
        return self.sheets_returned - self.blank_sheets - self.spoiled_sheets


class PaperEntry(PaperFigures):
    """One teller's count of the paper sheets of one participant group."""

    appraisal = models.ForeignKey(Appraisal, on_delete=models.CASCADE, related_name="paper_entries")
    teller = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="计票人", on_delete=models.PROTECT, related_name="+"
    )
    entered_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "纸质评议表录入"
        verbose_name_plural = "纸质评议表录入"
        constraints = [
            models.UniqueConstraint(
                fields=["appraisal", "group", "teller"], name="paper_entry_per_teller"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_group_display()} 纸质评议表录入"


class PaperCount(PaperFigures):
    """The paper count of a group once two tellers' entries agree; only these are counted."""

    appraisal = models.ForeignKey(Appraisal, on_delete=models.CASCADE, related_name="paper_counts")
    tellers = models.CharField("计票人", max_length=120)
    confirmed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "纸质评议表计票"
        verbose_name_plural = "纸质评议表计票"
        constraints = [
            models.UniqueConstraint(fields=["appraisal", "group"], name="paper_count_once")
        ]

    def __str__(self) -> str:
        return f"{self.get_group_display()} 纸质评议表计票"


class AppraisalEvent(models.Model):
    """History of a session. Casting a ballot leaves no event: that would date the ballot."""

    appraisal = models.ForeignKey(Appraisal, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField("操作", max_length=20)
    comment = models.CharField("说明", max_length=500, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "民主评议记录"
        verbose_name_plural = "民主评议记录"
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.appraisal} {self.action}"


EVENT_LABELS = {
    "create": "制定方案",
    "edit": "修改方案",
    "statements": "进入公开述职",
    "statement": "提交述职",
    "exclude": "暂缓评议",
    "restore": "恢复评议",
    "voting": "开始组织评议",
    "slips": "印制选票码",
    "void": "作废选票码",
    "paper": "录入纸质评议表",
    "paper_confirm": "纸质计票确认",
    "paper_discard": "清除未核对的纸质录入",
    "close": "结束评议并计票",
    "decide": "认定评议结果",
    "adopt": "采用全部建议等次",
    "publish": "公开结果",
}


class AppraisalFigure(FigureRow):
    """An organisation's own 民主评议 figures for a year (reviews/appraisal/figures.py)."""

    sessions_owed = models.PositiveIntegerField("应开展评议", default=0)
    sessions_held = models.PositiveIntegerField("已开展评议", default=0)
    sessions_published = models.PositiveIntegerField("已公开结果", default=0)
    voters_member = models.PositiveIntegerField("参加党员人数", default=0)
    voters_masses = models.PositiveIntegerField("参加群众人数", default=0)
    orgs_band_1 = models.PositiveIntegerField("满意率90%以上的党组织", default=0)
    orgs_band_2 = models.PositiveIntegerField("满意率80%至90%的党组织", default=0)
    orgs_band_3 = models.PositiveIntegerField("满意率60%至80%的党组织", default=0)
    orgs_band_4 = models.PositiveIntegerField("满意率60%以下的党组织", default=0)
    votes_1 = models.PositiveIntegerField("满意票", default=0)
    votes_2 = models.PositiveIntegerField("比较满意票", default=0)
    votes_3 = models.PositiveIntegerField("一般票", default=0)
    votes_4 = models.PositiveIntegerField("不满意票", default=0)
    members_excellent = models.PositiveIntegerField("优秀", default=0)
    members_pass = models.PositiveIntegerField("合格", default=0)
    members_basic = models.PositiveIntegerField("基本合格", default=0)
    members_fail = models.PositiveIntegerField("不合格", default=0)
    members_deferred = models.PositiveIntegerField("暂缓评议", default=0)
    # 优秀 from sessions published at or above the turnout share: the 评先评优 suggestions
    members_commended = models.PositiveIntegerField("评先评优推荐党员", default=0)

    class Meta:
        verbose_name = "民主评议统计数"
        verbose_name_plural = "民主评议统计数"
        constraints = [
            models.UniqueConstraint(fields=["period", "org"], name="appraisal_figure_once")
        ]
