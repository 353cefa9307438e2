"""Writes to the organisation tree, the roster and the role grants. Views, admin actions,
imports and commands all come through these functions."""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from guardian.shortcuts import assign_perm, remove_perm

from orgs import access, extensions, figures, selectors
from orgs.access import forget_grants
from orgs.accounts import password_set_by
from orgs.events import actor_of
from orgs.locks import refuse_if_locked
from orgs.models import (
    AuditEntry,
    Member,
    Membership,
    Organization,
    OrgKind,
    OrgYearFigure,
    Role,
    kind_allowed_under,
)
from orgs.periods import YEAR_MAX, YEAR_MIN, is_campaign_year
from orgs.refusals import refuse
from orgs.text import person_name

ORG_FIELDS = ("name", "code", "kind", "sector", "is_active")
MEMBER_FIELDS = Member.EDITABLE_FIELDS


def audit(*, by, action: str, summary: str, org=None, member=None, changes=None) -> AuditEntry:
    """The history row of a change to the tree, the roll or the roles."""
    return AuditEntry.objects.create(
        actor=actor_of(by),
        action=action,
        summary=summary[:300],
        org=org,
        member=member,
        changes=changes or {},
    )


def _check_actor(by, rule: Callable[..., bool], *objects, message: str) -> None:
    """Refuse `by` unless `rule(by, *objects)`, a check of orgs.access: each service re-checks
    its actor, so a task or another app may call it as safely as a page. `by` None is the system
    itself (demo data, commands) and a superuser is the provincial office in the admin: both act
    as they are."""
    if by is None or getattr(by, "is_superuser", False) or rule(by, *objects):
        return
    # A refusal is decided on positions read now: a request that changed the tree (a roster
    # import creates and moves organisations as it goes) may hold grants and rows read before.
    forget_grants(by)
    if not rule(by, *(_reread(obj) for obj in objects)):
        refuse(message)


def _reread(obj):
    if isinstance(obj, Member):
        return Member.objects.select_related("org__parent").get(pk=obj.pk)
    if isinstance(obj, Organization):
        return Organization.objects.select_related("parent").get(pk=obj.pk)
    return obj


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    if isinstance(value, models.Model):
        return str(value)
    return value


def changes(obj, fields: dict[str, Any]) -> dict[str, list]:
    """The fields whose new value differs from the object's, as {name: [old, new]}."""
    return {
        name: [_jsonable(getattr(obj, name)), _jsonable(value)]
        for name, value in fields.items()
        if getattr(obj, name) != value
    }


def _check_nesting(*, kind: str, parent: Organization | None) -> None:
    if not kind_allowed_under(kind, parent.kind if parent else None):
        refuse(
            f"“{OrgKind(kind).label}”不能设在“{parent.get_kind_display()}”之下"
            f"（上级组织：{parent.name}）。",
            "kind",
        )


def _check_children_fit(*, org: Organization, kind: str) -> None:
    bad = [c for c in org.get_children() if not kind_allowed_under(c.kind, kind)]
    if bad:
        refuse(
            f"改为“{OrgKind(kind).label}”后，下级组织“{bad[0].name}”"
            f"（{bad[0].get_kind_display()}）不能设在其下。",
            "kind",
        )


def _check_code_free(*, code: str, exclude_pk: int | None = None) -> None:
    taken = Organization.objects.filter(code=code).exclude(pk=exclude_pk).first()
    if taken:
        refuse(f"组织代码“{code}”已被“{taken.name}”使用。", "code")


@transaction.atomic
def organization_create(
    *,
    by,
    parent: Organization | None,
    name: str,
    code: str,
    kind: str,
    sector: str,
    is_active: bool = True,
) -> Organization:
    """Create an organisation under `parent`, checking the kind order and the code."""
    _check_actor(
        by,
        access.can_create_org,
        parent,
        message=f"您不能在“{parent.name}”之下新建党组织。"
        if parent
        else "您不能新建最高一级党组织。",
    )
    _check_nesting(kind=kind, parent=parent)
    _check_code_free(code=code)
    org = Organization(
        parent=parent, name=name, code=code, kind=kind, sector=sector, is_active=is_active
    )
    org.full_clean(exclude=["parent", "secretary"])
    org.save()
    figures.touch_all_kept([org.pk, org.parent_id])
    audit(by=by, action="org_create", org=org, summary=f"新建党组织“{name}”（{code}）")
    return org


@transaction.atomic
def organization_update(*, by, org: Organization, **fields) -> Organization:
    """Change an organisation's own fields (not its place in the tree; see organization_move)."""
    unknown = set(fields) - set(ORG_FIELDS) - {"secretary"}
    if unknown:
        raise TypeError(f"unknown fields {unknown}")
    _check_actor(by, access.can_edit_org, org, message=f"您不能修改“{org.name}”。")
    if "code" in fields:
        _check_code_free(code=fields["code"], exclude_pk=org.pk)
    if "kind" in fields and fields["kind"] != org.kind:
        _check_nesting(kind=fields["kind"], parent=org.parent)
        _check_children_fit(org=org, kind=fields["kind"])
    secretary = fields.get("secretary")
    if secretary is not None and secretary.pk != org.secretary_id:
        _check_secretary(org=org, member=secretary)
    diff = changes(org, fields)
    if not diff:
        return org
    for name, value in fields.items():
        setattr(org, name, value)
    org.full_clean(exclude=["parent", "secretary"])
    org.save(update_fields=[*fields, "updated_at"])
    if not diff.keys().isdisjoint({"is_active", "kind", "secretary"}):
        figures.touch_all_kept([org.pk, org.parent_id])
    audit(by=by, action="org_update", org=org, summary=f"修改党组织“{org.name}”", changes=diff)
    return org


def _check_secretary(*, org: Organization, member: Member) -> None:
    """The rule of orgs.selectors.secretary_candidates, on the rows already read."""
    member_org = member.org
    if org.pk not in selectors.secretary_posts(
        member_org=member_org.pk, parent=member_org.parent_id
    ):
        refuse(
            "书记应为本组织或下级组织的党员（限本组织及直属下级组织），"
            f"“{member.name}”在“{member_org.name}”。",
            "secretary",
        )


@transaction.atomic
def organization_move(*, by, org: Organization, new_parent: Organization) -> Organization:
    """Move an organisation, with its subtree, under `new_parent`."""
    if org.parent_id is None:
        refuse("最高一级党组织不能移动。", "parent")
    _check_actor(by, access.can_move_org, org, message="只有上级组织的书记、副书记可以移动本组织。")
    _check_actor(
        by,
        access.can_move_org,
        org,
        new_parent,
        message=f"您不能把党组织移到“{new_parent.name}”之下：它不在您管理的范围内。",
    )
    if new_parent.pk == org.parent_id:
        refuse(f"“{org.name}”已经在“{new_parent.name}”之下。", "parent")
    if new_parent.tree_id == org.tree_id and org.lft <= new_parent.lft <= org.rght:
        refuse("不能移到本组织或其下级组织之下。", "parent")
    _check_nesting(kind=org.kind, parent=new_parent)
    old_parent = org.parent
    org.move_to(new_parent, "last-child")
    org.refresh_from_db()
    figures.touch_all_kept([org.pk, old_parent.pk, new_parent.pk])
    audit(
        by=by,
        action="org_move",
        org=org,
        summary=f"“{org.name}”从“{old_parent.name}”移到“{new_parent.name}”之下",
        changes={"parent": [old_parent.code, new_parent.code]},
    )
    return org


@transaction.atomic
def org_year_figure_set(*, by, org: Organization, year: int, activist_count: int) -> OrgYearFigure:
    """Set the organisation's 入党积极分子数 for `year` (its ledger header)."""
    _check_actor(by, access.can_edit_org, org, message=f"您不能填报“{org.name}”的年度数据。")
    if not is_campaign_year(year):
        refuse(f"年度应在{YEAR_MIN}年至{YEAR_MAX}年之间。", "year")
    if activist_count < 0:
        refuse("入党积极分子数不能为负数。", "activist_count")
    figure, created = OrgYearFigure.objects.get_or_create(
        org=org, year=year, defaults={"activist_count": activist_count}
    )
    if not created and figure.activist_count != activist_count:
        old = figure.activist_count
        figure.activist_count = activist_count
        figure.save(update_fields=["activist_count"])
        audit(
            by=by,
            action="org_figures",
            org=org,
            summary=f"{year}年入党积极分子数 {old} → {activist_count}",
            changes={"activist_count": [old, activist_count], "year": year},
        )
    elif created:
        audit(
            by=by, action="org_figures", org=org, summary=f"{year}年入党积极分子数 {activist_count}"
        )
    return figure


def _check_holds_members(org: Organization) -> None:
    if not org.holds_members:
        refuse(
            f"党员的组织关系应在党委、党总支或党支部，“{org.name}”是{org.get_kind_display()}。",
            "org",
        )
    if not org.is_active:
        refuse(f"“{org.name}”已停用，不能接收党员。", "org")


def _check_member_dates(fields: dict[str, Any]) -> None:
    birth, joined = fields.get("birth_date"), fields.get("joined_on")
    today = timezone.localdate()
    if birth and birth > today:
        refuse("出生年月不能晚于今天。", "birth_date")
    if joined and joined > today:
        refuse("入党时间不能晚于今天。", "joined_on")
    if birth and joined and joined < birth.replace(year=birth.year + 18):
        refuse("入党时间应在年满十八岁之后。", "joined_on")


IDENTITY_FIELDS = ("name", "birth_date", "joined_on")


def _check_member_identity(*, fields: dict[str, Any], exclude_pk: int | None = None) -> None:
    """Nobody is on the roll twice: name, 出生年月 and 入党时间 identify a member province-wide, as
    in the roster import. The message does not say where the other record is."""
    if any(fields.get(name) in (None, "") for name in IDENTITY_FIELDS):
        return  # incomplete: full_clean names the missing field
    twins = Member.objects.filter(**{name: fields[name] for name in IDENTITY_FIELDS})
    if twins.exclude(pk=exclude_pk).exists():
        refuse(
            "与已有党员重复（姓名、出生年月、入党时间都相同）；如为同一人，请办理组织关系转接。",
            "name",
        )


def _normalise_name(fields: dict[str, Any]) -> None:
    if isinstance(fields.get("name"), str):
        fields["name"] = person_name(fields["name"])


@transaction.atomic
def member_create(*, by, org: Organization, since: datetime.date | None = None, **fields) -> Member:
    """Put a new member on the roll of `org` from `since` (default today)."""
    _check_actor(by, access.can_edit_roster, org, message=f"您不能在“{org.name}”新增党员。")
    _check_holds_members(org)
    _normalise_name(fields)
    _check_member_dates(fields)
    _check_member_identity(fields=fields)
    member = Member(org=org, **fields)
    member.full_clean(exclude=["user", "org"])
    member.save()
    Membership.objects.create(member=member, org=org, start=since or timezone.localdate())
    figures.touch(org.pk, since or timezone.localdate(), timezone.localdate())
    audit(by=by, action="member_create", org=org, member=member, summary=f"新增党员“{member.name}”")
    return member


@transaction.atomic
def member_update(*, by, member: Member, **fields) -> Member:
    """Change a member's 写实簿 header fields and flags (not the organisation; see member_transfer)."""
    unknown = set(fields) - set(MEMBER_FIELDS) - {"user"}
    if unknown:
        raise TypeError(f"unknown fields {unknown}")
    _check_actor(
        by, access.can_edit_roster, member.org, message=f"您不能修改“{member.name}”的信息。"
    )
    _normalise_name(fields)
    _check_member_dates(
        {
            "birth_date": fields.get("birth_date", member.birth_date),
            "joined_on": fields.get("joined_on", member.joined_on),
        }
    )
    diff = changes(member, fields)
    if not diff:
        return member
    refuse_if_locked("member", [member.pk], fields=diff)
    if not diff.keys().isdisjoint(IDENTITY_FIELDS):
        _check_member_identity(
            fields={name: fields.get(name, getattr(member, name)) for name in IDENTITY_FIELDS},
            exclude_pk=member.pk,
        )
    for name, value in fields.items():
        setattr(member, name, value)
    member.full_clean(exclude=["user", "org"])
    member.save(update_fields=[*fields, "updated_at"])
    audit(
        by=by,
        action="member_update",
        org=member.org,
        member=member,
        summary=f"修改党员“{member.name}”的信息",
        changes=diff,
    )
    return member


@transaction.atomic
def member_transfer(
    *, by, member: Member, to_org: Organization, on: datetime.date, note: str = ""
) -> Membership:
    """Transfer a member to `to_org` from date `on`: close the open membership, open a new one."""
    _check_actor(
        by,
        access.can_edit_roster,
        member.org,
        message="只有本支部或上级组织的书记、副书记可以办理转接。",
    )
    _check_actor(
        by,
        access.can_transfer_member_to,
        member,
        to_org,
        message=f"不能转入“{to_org.name}”：它不在您可转入的范围内。",
    )
    _check_holds_members(to_org)
    if to_org.pk == member.org_id:
        refuse(f"“{member.name}”已在“{to_org.name}”。", "to_org")
    current = Membership.objects.select_for_update().filter(member=member, end__isnull=True).first()
    if current and on <= current.start:
        refuse(f"转接日期应晚于转入当前组织的日期（{current.start:%Y年%m月%d日}）。", "on")
    if on > timezone.localdate():
        # the member's organisation changes now: a transfer is recorded on or after its day
        refuse("转接日期不能晚于今天，请在转接当日或之后办理。", "on")
    from_org = member.org
    if current:
        current.end = on
        current.save(update_fields=["end"])
    new = Membership.objects.create(member=member, org=to_org, start=on, note=note)
    member.org = to_org
    member.save(update_fields=["org", "updated_at"])
    # the posts the member no longer qualifies for (orgs.selectors.secretary_candidates) end
    left = set(selectors.secretary_posts(member_org=from_org.pk, parent=from_org.parent_id))
    left -= set(selectors.secretary_posts(member_org=to_org.pk, parent=to_org.parent_id))
    Organization.objects.filter(pk__in=left, secretary=member).update(secretary=None)
    parents = Organization.objects.filter(pk__in=left).values_list("parent_id", flat=True)
    figures.touch([from_org.pk, to_org.pk, *left, *parents], on, timezone.localdate())
    _roles_follow_transfer(by=by, member=member, from_org=from_org, to_org=to_org)
    # what later apps move with the member (open pledges…), in this transaction
    extensions.member_transferred(member=member, from_org=from_org, to_org=to_org, on=on, by=by)
    audit(
        by=by,
        action="member_transfer",
        org=from_org,
        member=member,
        summary=f"“{member.name}”自{on:%Y年%m月%d日}由“{from_org.name}”转至“{to_org.name}”",
        changes={"org": [from_org.code, to_org.code], "on": on.isoformat(), "note": note},
    )
    return new


def _roles_follow_transfer(*, by, member: Member, from_org: Organization, to_org: Organization):
    """A member's login leaves the former branch's roles with the member: the member role moves to
    the new organisation, a deputy's post at the former one ends (its secretary post is cleared
    above). Roles elsewhere (an office, a contact post) are not the branch's to take."""
    user = member.user
    if user is None:
        return
    held = {
        role
        for role in (Role.MEMBER, Role.DEPUTY)
        if role_grant_exists(user=user, org=from_org, role=role)
    }
    for role in held:
        _revoke(by=by, user=user, org=from_org, role=role,
                summary=f"{user.get_username()} 随组织关系转出，不再担任{role.label}")  # fmt: skip
    if Role.MEMBER in held and not role_grant_exists(user=user, org=to_org, role=Role.MEMBER):
        _grant(by=by, user=user, org=to_org, role=Role.MEMBER,
               summary=f"{user.get_username()} 随组织关系转入，担任{Role.MEMBER.label}")  # fmt: skip


def _refuse_self(*, by, user) -> None:
    if user.pk == getattr(by, "pk", None):
        refuse("不能给自己授予角色，请由有权授予该角色的其他人办理。", "member")


def _check_grant(
    *, by, org: Organization, role: Role, user=None, member: Member | None = None, page=False
) -> None:
    """The rules of a grant by a person, in one place for role_assign (the page), role_grant and
    the admin's form: never to oneself; only a role access.can_assign_role allows; only to a
    member's own login (`user`, or `member` whose login role_assign opens) and to one in the
    granter's scope (the member role to one on `org`'s roll). A superuser in the admin grants
    anywhere, never on the page. `by` None is the system itself (demo data, commands)."""
    if by is None and not page:
        return
    if user is not None:
        _refuse_self(by=by, user=user)
    anywhere = not page and getattr(by, "is_superuser", False)
    if not anywhere and not access.can_assign_role(by, org, role):
        refuse(_refusal(org=org, role=role), "role")
    if member is None:
        member = Member.objects.select_related("org").filter(user_id=user.pk).first()
        if member is None:
            refuse("角色只能授予党员本人的登录账号。", "member")
    if role == Role.MEMBER and member.org_id != org.pk:
        refuse(f"党员角色只授予本组织的党员，“{member.name}”在“{member.org.name}”。", "member")
    if not anywhere and not access.members_visible_to(by).filter(pk=member.pk).exists():
        refuse("只能把角色授予您工作范围内的党员。", "member")


def _grant(*, by, user, org: Organization, role: Role, summary: str = "") -> None:
    """The grant itself, unchecked: see role_grant and role_assign."""
    assign_perm(f"orgs.{role.codename}", user, org)
    forget_grants(user)
    audit(
        by=by,
        action="role_grant",
        org=org,
        summary=summary or f"授予 {user.get_username()} {role.label}角色",
    )


def _revoke(*, by, user, org: Organization, role: Role, summary: str = "") -> None:
    """The revocation itself, unchecked: see role_revoke."""
    remove_perm(f"orgs.{role.codename}", user, org)
    forget_grants(user)
    audit(
        by=by,
        action="role_revoke",
        org=org,
        summary=summary or f"撤销 {user.get_username()} {role.label}角色",
    )


@transaction.atomic
def role_grant(*, by, user, org: Organization, role: Role) -> None:
    """Give `user` the `role` at `org`; it reaches the whole subtree. A person granting is held to
    the rules (see `_check_grant`); nobody grants a role to themselves."""
    role = Role(role)
    _check_grant(by=by, user=user, org=org, role=role)
    _grant(by=by, user=user, org=org, role=role)


def role_grant_exists(*, user, org: Organization, role: Role) -> bool:
    from orgs.models import OrganizationUserObjectPermission

    return OrganizationUserObjectPermission.objects.filter(
        user=user, content_object=org, permission__codename=Role(role).codename
    ).exists()


@transaction.atomic
def role_revoke(*, by, user, org: Organization, role: Role) -> None:
    """Take `role` at `org` from `user`. Nobody revokes their own role, a superuser neither (in the
    admin): it is done by someone else, and the audit shows who. `by` None is the system."""
    if by is not None and user.pk == getattr(by, "pk", None):
        refuse("不能撤销自己的角色，请由其他有权撤销的人办理。")
    _revoke(by=by, user=user, org=org, role=Role(role))


def _refusal(*, org: Organization, role: Role) -> str:
    if role == Role.SECRETARY:
        return f"您不能在“{org.name}”授予书记角色：书记由上级党组织任命。"
    if role in access.FROM_ABOVE:
        return (
            f"您不能在“{org.name}”授予{role.label}角色：该角色由上级党组织的书记、副书记"
            "或上级工作人员授予。"
        )
    return f"您不能在“{org.name}”授予{role.label}角色。"


# A new login's username: 3 to 30 lower-case ASCII letters and digits, nothing else, so that no
# name can pass for another one (ZHEN_SHUJI, zhen.shuji or a Cyrillic і beside zhen_shuji).
USERNAME_RE = re.compile(r"[a-z0-9]{3,30}")
# A login opened without a chosen name is dy<member id>; nobody may choose one that looks like it
# (dy111, dylll), or they could take a member's future login name. Matched against the skeleton.
AUTO_USERNAME_SKELETON_RE = re.compile(r"dy[0-9ols]+")
# The skeleton of a username (see _username_skeleton): punctuation dropped, look-alikes made one.
_SKELETON_DROPPED = "._-@+"
_SKELETON_SAME = {"0": "o", "1": "l", "i": "l", "5": "s"}


def _username_skeleton(name: str) -> str:
    """What a username looks like at a glance: lower case, without punctuation, and with the
    characters that pass for one another made one (0 o; 1 i l; 5 s)."""
    name = name.lower()
    for char in _SKELETON_DROPPED:
        name = name.replace(char, "")
    for char, same in _SKELETON_SAME.items():
        name = name.replace(char, same)
    return name


def _username_skeleton_sql():
    """_username_skeleton of the username column, for comparing a new name with every login."""
    from django.db.models.functions import Lower, Replace

    expression = Lower("username")
    for char in _SKELETON_DROPPED:
        expression = Replace(expression, models.Value(char), models.Value(""))
    for char, same in _SKELETON_SAME.items():
        expression = Replace(expression, models.Value(char), models.Value(same))
    return expression


def _check_username(name: str) -> str:
    """A chosen username for a new login, lower-cased; refused unless it is 3 to 30 of a-z 0-9
    and passes Django's own username validators, or when it looks like an automatic name."""
    from django.contrib.auth import get_user_model

    field = get_user_model()._meta.get_field("username")
    name = name.lower()
    try:
        if not USERNAME_RE.fullmatch(name):
            raise ValidationError("pattern")
        field.run_validators(name)
    except ValidationError:
        raise ValidationError(
            {
                "username": f"用户名“{name[:40]}”不可用：请用 3 至 30 个小写英文字母或数字，"
                "不含标点和空格。"
            }
        ) from None
    if AUTO_USERNAME_SKELETON_RE.fullmatch(_username_skeleton(name)):
        refuse(
            f"用户名“{name}”不可用：“dy”加数字的用户名留给自动生成的账号，请另取一个。", "username"
        )
    return name


def _login_open(*, by, member: Member, username: str) -> tuple[object, str]:
    """A new login for `member`, whose row the caller holds locked; its one-time password.

    The name is the chosen one or dy<member id>, and is refused when it looks like an existing
    username (the same skeleton: zhen.shuji, zhenshuji or zhen_shuj1 beside zhen_shuji). The
    member row is linked only while it has no login (a conditional update), so two requests at
    once make one login; the loser's error rolls its new account back with the transaction."""
    import secrets

    from django.contrib.auth import get_user_model

    User = get_user_model()
    name = _check_username(username) if username else f"dy{member.pk}"
    taken = {"username": f"用户名“{name}”不可用：与已有的用户名相同或相似，请另取一个。"}
    # Opening a login is rare: comparing with every username in one query is affordable.
    if (
        User.objects.annotate(skeleton=_username_skeleton_sql())
        .filter(skeleton=_username_skeleton(name))
        .exists()
    ):
        raise ValidationError(taken)
    password = secrets.token_urlsafe(9)
    try:
        with transaction.atomic():
            user = User.objects.create_user(
                username=name, password=password, first_name=member.name
            )
    except IntegrityError:  # the same name taken by a request running at the same time
        raise ValidationError(taken) from None
    if not Member.objects.filter(pk=member.pk, user__isnull=True).update(user=user):
        refuse(f"“{member.name}”已开通登录账号，不能重复开通。", "member")
    password_set_by(user=user, by=by)
    audit(
        by=by,
        action="login_open",
        org=member.org,
        member=member,
        summary=f"为“{member.name}”开通登录账号 {name}",
    )
    return user, password


@transaction.atomic
def role_assign(
    *, by, org: Organization, role: Role, member: Member, username: str = ""
) -> tuple[object, str]:
    """Give `role` at `org` to `member`'s login, opening one for the member if they have none.

    Returns the user and, for a new login, its one-time password (shown once, never stored)."""
    role = Role(role)
    # Locked: a second request for the same member waits here and then sees the first's login.
    # Only the member row is locked, and its login is read after the lock in a statement of its
    # own: joined into the locking query, a login the first request made would be missing from
    # the row PostgreSQL re-reads once the lock is released.
    member = Member.objects.select_for_update(of=("self",)).select_related("org").get(pk=member.pk)
    _check_grant(by=by, org=org, role=role, user=member.user, member=member, page=True)
    username = username.strip()
    password = ""
    if member.user_id is not None:
        user = member.user
        if username and username != user.get_username():
            refuse(f"“{member.name}”已有登录账号，不能再开通新账号。", "username")
    else:
        user, password = _login_open(by=by, member=member, username=username)
    if role_grant_exists(user=user, org=org, role=role):
        refuse(f"“{member.name}”已是“{org.name}”的{role.label}。", "role")
    _grant(by=by, user=user, org=org, role=role)
    return user, password


@transaction.atomic
def role_withdraw(*, by, org: Organization, role: Role, user) -> None:
    """Take `role` at `org` from `user`, for one who may grant it there (see role_revoke)."""
    role = Role(role)
    if not access.can_assign_role(by, org, role):
        refuse(f"您不能撤销“{org.name}”的{role.label}角色。")
    role_revoke(by=by, user=user, org=org, role=role)  # which refuses one's own role


def password_change(*, user, password: str, by) -> None:
    """The owner sets their own password, held to the site's password validators. It must differ
    from the current one: keeping a password someone else set would count it as the owner's own."""
    from django.contrib.auth import password_validation

    if by is None or getattr(by, "pk", None) != user.pk:
        refuse("只能由本人修改自己的密码。")
    if user.check_password(password):
        refuse("新密码不能与原密码相同。")
    password_validation.validate_password(password, user)
    user.set_password(password)
    user.save(update_fields=["password"])
    password_set_by(user=user, by=by)
