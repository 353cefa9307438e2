from __future__ import annotations

import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase
from mptt.models import MPTTModel, TreeForeignKey


class OrgKind(models.TextChoices):
    PROVINCE = "province", "省委"
    CITY = "city", "市(地)委"
    COUNTY = "county", "县(市、区)委"
    COMMITTEE = "committee", "基层党委"
    GENERAL_BRANCH = "general_branch", "党总支"
    BRANCH = "branch", "党支部"
    GROUP = "group", "党小组"


KIND_RANK = {kind: rank for rank, kind in enumerate(OrgKind)}
# Members are kept on the rolls of a branch-level organisation; a 党小组 is a part of its branch.
MEMBER_HOLDING_KINDS = frozenset({OrgKind.COMMITTEE, OrgKind.GENERAL_BRANCH, OrgKind.BRANCH})


def kind_allowed_under(child: str, parent: str | None) -> bool:
    """Whether an organisation of kind `child` may sit directly under one of kind `parent`.

    Kinds nest downwards only (no 党委 under a 党支部); a 基层党委 may sit under another 基层党委
    (an enterprise group's committee over its subsidiaries' committees); a 党小组 only under a 党支部.
    """
    if parent is None:
        return True
    if child == OrgKind.GROUP:
        return parent == OrgKind.BRANCH
    if child == parent == OrgKind.COMMITTEE:
        return True
    return KIND_RANK[OrgKind(child)] > KIND_RANK[OrgKind(parent)]


class Sector(models.TextChoices):
    RURAL = "rural", "农村"
    COMMUNITY = "community", "社区"
    ORGAN = "organ", "机关"
    INSTITUTION = "institution", "事业单位"
    STATE_ENTERPRISE = "state_enterprise", "国有企业"
    PRIVATE_ENTERPRISE = "private_enterprise", "非公企业"
    SOCIAL = "social", "社会组织"
    SCHOOL = "school", "学校"
    CORPS = "corps", "团场连队"
    OTHER = "other", "其他"


class Role(models.TextChoices):
    SECRETARY = "secretary", "书记"
    DEPUTY = "deputy", "副书记"
    OFFICE = "office", "工作人员"
    MEMBER = "member", "党员"
    CONTACT = "contact", "联系点领导"  # a leader linked to the organisation (联系点)

    @property
    def codename(self) -> str:
        return f"role_{self.value}"


class Organization(MPTTModel):
    name = models.CharField("组织名称", max_length=100)
    code = models.CharField("组织代码", max_length=32, unique=True)
    kind = models.CharField("组织类别", max_length=20, choices=OrgKind.choices)
    sector = models.CharField(
        "行业类别", max_length=20, choices=Sector.choices, default=Sector.OTHER
    )
    parent = TreeForeignKey(
        "self",
        verbose_name="上级组织",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    secretary = models.ForeignKey(
        "Member",
        verbose_name="书记",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    is_active = models.BooleanField("在用", default=True)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    class MPTTMeta:
        order_insertion_by: list[str] = []

    class Meta:
        verbose_name = "党组织"
        verbose_name_plural = "党组织"
        permissions = [(role.codename, f"{role.label}角色") for role in Role]
        # every subtree question is a range on (tree_id, lft)
        indexes = [models.Index(fields=["tree_id", "lft"], name="org_tree_range")]

    def __str__(self) -> str:
        return self.name

    @property
    def holds_members(self) -> bool:
        return self.kind in MEMBER_HOLDING_KINDS

    @property
    def takes_children(self) -> bool:
        """Whether any kind of organisation may sit under this one (not under a 党小组)."""
        return any(kind_allowed_under(kind, self.kind) for kind in OrgKind.values)

    def subtree_q(self, prefix: str = "") -> Q:
        """Q matching rows whose organisation (reached through `prefix`) is in this subtree."""
        return Q(
            **{
                f"{prefix}tree_id": self.tree_id,
                f"{prefix}lft__gte": self.lft,
                f"{prefix}lft__lte": self.rght,
            }
        )


class OrganizationUserObjectPermission(UserObjectPermissionBase):
    """A role grant: one row per user, organisation and role, covering the whole subtree."""

    content_object = models.ForeignKey(Organization, on_delete=models.CASCADE)

    class Meta(UserObjectPermissionBase.Meta):
        verbose_name = "角色授权"
        verbose_name_plural = "角色授权"

    @property
    def role(self) -> Role:
        """The role granted (read with the permission row)."""
        return Role(self.permission.codename.removeprefix("role_"))


class OrganizationGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Organization, on_delete=models.CASCADE)


class OrgYearFigure(models.Model):
    """Per-year figures of an organisation kept for the 写实簿 header."""

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="year_figures")
    year = models.PositiveSmallIntegerField("年度")
    activist_count = models.PositiveIntegerField("入党积极分子数", default=0)

    class Meta:
        verbose_name = "年度数据"
        verbose_name_plural = "年度数据"
        constraints = [models.UniqueConstraint(fields=["org", "year"], name="org_year_figure_once")]

    def __str__(self) -> str:
        return f"{self.org} {self.year}年"


ETHNICITIES = [
    "汉族",
    "蒙古族",
    "回族",
    "藏族",
    "维吾尔族",
    "苗族",
    "彝族",
    "壮族",
    "布依族",
    "朝鲜族",
    "满族",
    "侗族",
    "瑶族",
    "白族",
    "土家族",
    "哈尼族",
    "哈萨克族",
    "傣族",
    "黎族",
    "傈僳族",
    "佤族",
    "畲族",
    "高山族",
    "拉祜族",
    "水族",
    "东乡族",
    "纳西族",
    "景颇族",
    "柯尔克孜族",
    "土族",
    "达斡尔族",
    "仫佬族",
    "羌族",
    "布朗族",
    "撒拉族",
    "毛南族",
    "仡佬族",
    "锡伯族",
    "阿昌族",
    "普米族",
    "塔吉克族",
    "怒族",
    "乌孜别克族",
    "俄罗斯族",
    "鄂温克族",
    "德昂族",
    "保安族",
    "裕固族",
    "京族",
    "塔塔尔族",
    "独龙族",
    "鄂伦春族",
    "赫哲族",
    "门巴族",
    "珞巴族",
    "基诺族",
]


class Gender(models.TextChoices):
    MALE = "男", "男"
    FEMALE = "女", "女"


class Education(models.TextChoices):
    """文化程度: the levels of the national standard (GB/T 4658 学历代码), highest first.

    研究生 alone stays for records that do not say which degree (and for data from before the
    split into 博士/硕士)."""

    DOCTORATE = "博士研究生", "博士研究生"
    MASTER = "硕士研究生", "硕士研究生"
    POSTGRADUATE = "研究生", "研究生"
    BACHELOR = "大学本科", "大学本科"
    COLLEGE = "大学专科", "大学专科"
    VOCATIONAL = "中等专科", "中等专科"
    VOCATIONAL_HIGH = "职业高中", "职业高中"
    TECHNICAL = "技工学校", "技工学校"
    HIGH_SCHOOL = "高中", "高中"
    JUNIOR = "初中", "初中"
    PRIMARY = "小学", "小学"
    OTHER = "其他", "其他"


# The usual short forms (and the values used before the standard levels) → the stored level.
EDUCATION_ALIASES = {
    "博士": Education.DOCTORATE,
    "硕士": Education.MASTER,
    "本科": Education.BACHELOR,
    "大专": Education.COLLEGE,
    "专科": Education.COLLEGE,
    "中专": Education.VOCATIONAL,
    "职高": Education.VOCATIONAL_HIGH,
    "技校": Education.TECHNICAL,
    "普通高中": Education.HIGH_SCHOOL,
    "初中及以下": Education.JUNIOR,
}


def education_from_text(text: str) -> str | None:
    """The stored level for a level or its short form as people write it; None if unknown."""
    text = text.strip()
    if text in Education.values:
        return text
    alias = EDUCATION_ALIASES.get(text)
    return alias.value if alias else None


class MemberCategory(models.TextChoices):
    FULL = "full", "正式党员"
    PROBATIONARY = "probationary", "预备党员"


class Member(models.Model):
    """A party member, with the header fields of the member 写实簿."""

    name = models.CharField("姓名", max_length=50)
    gender = models.CharField("性别", max_length=2, choices=Gender.choices)
    ethnicity = models.CharField(
        "民族", max_length=10, choices=[(e, e) for e in ETHNICITIES], default="汉族"
    )
    birth_date = models.DateField("出生年月", help_text="只记年月，日为 1 日")
    joined_on = models.DateField("入党时间")
    education = models.CharField("文化程度", max_length=10, choices=Education.choices)
    post = models.CharField("现任职务", max_length=100, blank=True)
    category = models.CharField(
        "党员类别", max_length=20, choices=MemberCategory.choices, default=MemberCategory.FULL
    )
    is_elderly_infirm = models.BooleanField("年老体弱", default=False)
    is_low_literacy = models.BooleanField("文化程度低", default=False)
    is_retired = models.BooleanField("离退休", default=False)
    is_mobile = models.BooleanField("流动党员", default=False)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name="登录账号",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="member",
    )
    # The organisation the member belongs to now; Membership keeps the dated history.
    org = models.ForeignKey(
        Organization, verbose_name="所在党组织", on_delete=models.PROTECT, related_name="members"
    )
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    # the 写实簿 header, in the order of the form and of the roster sheet
    HEADER_FIELDS = (
        "name", "gender", "ethnicity", "birth_date", "joined_on", "education", "post", "category",
    )  # fmt: skip
    FLAG_FIELDS = ("is_elderly_infirm", "is_low_literacy", "is_retired", "is_mobile")
    EDITABLE_FIELDS = (*HEADER_FIELDS, *FLAG_FIELDS)

    class Meta:
        verbose_name = "党员"
        verbose_name_plural = "党员"
        indexes = [
            models.Index(fields=["org", "name"], name="member_org_name"),
            models.Index(fields=["name", "birth_date", "joined_on"], name="member_identity"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def flag_labels(self) -> list[str]:
        return [
            str(self._meta.get_field(field).verbose_name)
            for field in self.FLAG_FIELDS
            if getattr(self, field)
        ]

    @property
    def may_pledge_orally(self) -> bool:
        return self.is_elderly_infirm or self.is_low_literacy


class MembershipQuerySet(models.QuerySet):
    def on(self, day: datetime.date) -> MembershipQuerySet:
        return self.filter(Q(start__lte=day) & (Q(end__isnull=True) | Q(end__gt=day)))


class Membership(models.Model):
    """A member's stay in one organisation: [start, end). The open row is the current one."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="memberships")
    org = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="memberships")
    start = models.DateField("转入日期")
    end = models.DateField("转出日期", null=True, blank=True)
    note = models.CharField("说明", max_length=200, blank=True)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        verbose_name = "组织关系"
        verbose_name_plural = "组织关系"
        ordering = ["start", "id"]
        indexes = [models.Index(fields=["org", "start"], name="membership_org_start")]
        constraints = [
            models.UniqueConstraint(
                fields=["member"], condition=Q(end__isnull=True), name="membership_one_open"
            ),
            models.CheckConstraint(
                condition=Q(end__isnull=True) | Q(end__gt=models.F("start")),
                name="membership_end_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member} @ {self.org}（{self.start}–{self.end or '今'}）"


class AuditEntry(models.Model):
    """Who changed what: one row per change made through a service."""

    at = models.DateTimeField("时间", auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="操作人",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    action = models.CharField("操作", max_length=40)
    org = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.CASCADE, related_name="audit"
    )
    member = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.CASCADE, related_name="audit"
    )
    summary = models.CharField("摘要", max_length=300)
    changes = models.JSONField("变更内容", default=dict, blank=True)

    class Meta:
        verbose_name = "操作记录"
        verbose_name_plural = "操作记录"
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return self.summary


class AccountState(models.Model):
    """Facts about a login the auth tables do not keep: whether its password is the owner's own.

    An account with no row is taken as having a password its owner chose (accounts made before
    this table, and those made by the owner). A password set by someone else (a secretary opening
    a login for a member) is known to that person: the owner must change it before the account
    may do anything, and it never counts as a second, independent person (a paper teller)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="account_state",
    )
    password_set_by_other = models.BooleanField("密码由他人设置", default=False)
    password_changed_at = models.DateTimeField("本人修改密码时间", null=True, blank=True)

    class Meta:
        verbose_name = "账号状态"
        verbose_name_plural = "账号状态"

    def __str__(self) -> str:
        return str(self.user_id)


class PasswordSetting(models.Model):
    """One row each time someone other than the owner set an account's password (or opened the
    account with one). Never deleted: whoever once knew an account's password may have taken it
    over, so the two never count as two independent people (paper tellers)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="账号",
        on_delete=models.CASCADE,
        related_name="password_settings",
    )
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="设置人",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    at = models.DateTimeField("时间", auto_now_add=True)

    class Meta:
        verbose_name = "他人设置密码记录"
        verbose_name_plural = "他人设置密码记录"
        indexes = [models.Index(fields=["user", "by"], name="password_setting_user_by")]

    def __str__(self) -> str:
        return f"{self.user_id} ← {self.by_id}"


class ThrottleCounter(models.Model):
    """A failure counter shared by every worker and machine: a key (hashed) counts hits until
    `window_ends`; the next hit after that starts a new window."""

    key = models.CharField(max_length=64, primary_key=True)
    count = models.PositiveIntegerField(default=0)
    window_ends = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = "限次计数"
        verbose_name_plural = "限次计数"

    def __str__(self) -> str:
        return f"{self.key}: {self.count}"


class OfficeSetting(models.Model):
    """A value an office sets for its subtree and a campaign year: the pledge window, the grade
    rule, a deadline. For an organisation, the setting at it or at its nearest ancestor wins; what
    each key holds is declared by the app that owns it (orgs.calendar)."""

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="office_settings")
    year = models.PositiveSmallIntegerField("年度")
    key = models.CharField("设置项", max_length=60)
    value = models.JSONField("内容", default=dict)
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "办公室年度设置"
        verbose_name_plural = "办公室年度设置"
        constraints = [
            models.UniqueConstraint(fields=["org", "year", "key"], name="office_setting_once")
        ]
        indexes = [models.Index(fields=["key", "year", "org"], name="office_setting_key_year")]

    def __str__(self) -> str:
        return f"{self.org} {self.year}年 {self.key}"


from orgs.models_work import (  # noqa: E402,F401 - the models Django finds through this module
    CalendarFeed,
    Deadline,
    EmailOptOut,
    EmailState,
    Job,
    JobState,
    Reminder,
)
