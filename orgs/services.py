"""Writes to the organisation tree, the roster and the role grants. Views, admin actions,
imports and commands all come through these functions."""

from __future__ import annotations

import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone
from guardian.shortcuts import assign_perm, remove_perm

from orgs.access import forget_grants
from orgs.accounts import password_set_by
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

ORG_FIELDS = ("name", "code", "kind", "sector", "is_active")
MEMBER_FIELDS = Member.EDITABLE_FIELDS


def audit(*, by, action: str, summary: str, org=None, member=None, changes=None) -> AuditEntry:
    return AuditEntry.objects.create(
        actor=by if getattr(by, "is_authenticated", False) else None,
        action=action,
        summary=summary[:300],
        org=org,
        member=member,
        changes=changes or {},
    )


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
        raise ValidationError(
            {
                "kind": f"“{OrgKind(kind).label}”不能设在“{parent.get_kind_display()}”之下"
                f"（上级组织：{parent.name}）。"
            }
        )


def _check_children_fit(*, org: Organization, kind: str) -> None:
    bad = [c for c in org.get_children() if not kind_allowed_under(c.kind, kind)]
    if bad:
        raise ValidationError(
            {
                "kind": f"改为“{OrgKind(kind).label}”后，下级组织“{bad[0].name}”"
                f"（{bad[0].get_kind_display()}）不能设在其下。"
            }
        )


def _check_code_free(*, code: str, exclude_pk: int | None = None) -> None:
    taken = Organization.objects.filter(code=code).exclude(pk=exclude_pk).first()
    if taken:
        raise ValidationError({"code": f"组织代码“{code}”已被“{taken.name}”使用。"})


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
    _check_nesting(kind=kind, parent=parent)
    _check_code_free(code=code)
    org = Organization(
        parent=parent, name=name, code=code, kind=kind, sector=sector, is_active=is_active
    )
    org.full_clean(exclude=["parent", "secretary"])
    org.save()
    audit(by=by, action="org_create", org=org, summary=f"新建党组织“{name}”（{code}）")
    return org


@transaction.atomic
def organization_update(*, by, org: Organization, **fields) -> Organization:
    """Change an organisation's own fields (not its place in the tree; see organization_move)."""
    unknown = set(fields) - set(ORG_FIELDS) - {"secretary"}
    if unknown:
        raise TypeError(f"unknown fields {unknown}")
    if "code" in fields:
        _check_code_free(code=fields["code"], exclude_pk=org.pk)
    if "kind" in fields and fields["kind"] != org.kind:
        _check_nesting(kind=fields["kind"], parent=org.parent)
        _check_children_fit(org=org, kind=fields["kind"])
    if fields.get("secretary") is not None:
        _check_secretary(org=org, member=fields["secretary"])
    diff = changes(org, fields)
    if not diff:
        return org
    for name, value in fields.items():
        setattr(org, name, value)
    org.full_clean(exclude=["parent", "secretary"])
    org.save(update_fields=[*fields, "updated_at"])
    audit(by=by, action="org_update", org=org, summary=f"修改党组织“{org.name}”", changes=diff)
    return org


def _check_secretary(*, org: Organization, member: Member) -> None:
    member_org = member.org
    inside = (
        member_org.tree_id == org.tree_id
        and org.lft <= member_org.lft
        and member_org.rght <= org.rght
    )
    if not inside:
        raise ValidationError(
            {"secretary": f"书记应为本组织或下级组织的党员，“{member.name}”在“{member_org.name}”。"}
        )


@transaction.atomic
def organization_move(*, by, org: Organization, new_parent: Organization) -> Organization:
    """Move an organisation, with its subtree, under `new_parent`."""
    if org.parent_id is None:
        raise ValidationError({"parent": "最高一级党组织不能移动。"})
    if new_parent.pk == org.parent_id:
        raise ValidationError({"parent": f"“{org.name}”已经在“{new_parent.name}”之下。"})
    if new_parent.tree_id == org.tree_id and org.lft <= new_parent.lft <= org.rght:
        raise ValidationError({"parent": "不能移到本组织或其下级组织之下。"})
    _check_nesting(kind=org.kind, parent=new_parent)
    old_parent = org.parent
    org.move_to(new_parent, "last-child")
    org.refresh_from_db()
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
    if activist_count < 0:
        raise ValidationError({"activist_count": "入党积极分子数不能为负数。"})
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
        raise ValidationError(
            {
                "org": f"党员的组织关系应在党委、党总支或党支部，“{org.name}”是{org.get_kind_display()}。"
            }
        )
    if not org.is_active:
        raise ValidationError({"org": f"“{org.name}”已停用，不能接收党员。"})


def _check_member_dates(fields: dict[str, Any]) -> None:
    birth, joined = fields.get("birth_date"), fields.get("joined_on")
    today = timezone.localdate()
    if birth and birth > today:
        raise ValidationError({"birth_date": "出生年月不能晚于今天。"})
    if joined and joined > today:
        raise ValidationError({"joined_on": "入党时间不能晚于今天。"})
    if birth and joined and joined < birth.replace(year=birth.year + 18):
        raise ValidationError({"joined_on": "入党时间应在年满十八岁之后。"})


@transaction.atomic
def member_create(*, by, org: Organization, since: datetime.date | None = None, **fields) -> Member:
    """Put a new member on the roll of `org` from `since` (default today)."""
    _check_holds_members(org)
    _check_member_dates(fields)
    member = Member(org=org, **fields)
    member.full_clean(exclude=["user", "org"])
    member.save()
    Membership.objects.create(member=member, org=org, start=since or timezone.localdate())
    audit(by=by, action="member_create", org=org, member=member, summary=f"新增党员“{member.name}”")
    return member


@transaction.atomic
def member_update(*, by, member: Member, **fields) -> Member:
    """Change a member's 写实簿 header fields and flags (not the organisation; see member_transfer)."""
    unknown = set(fields) - set(MEMBER_FIELDS) - {"user"}
    if unknown:
        raise TypeError(f"unknown fields {unknown}")
    _check_member_dates(
        {
            "birth_date": fields.get("birth_date", member.birth_date),
            "joined_on": fields.get("joined_on", member.joined_on),
        }
    )
    diff = changes(member, fields)
    if not diff:
        return member
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
    _check_holds_members(to_org)
    if to_org.pk == member.org_id:
        raise ValidationError({"to_org": f"“{member.name}”已在“{to_org.name}”。"})
    current = Membership.objects.select_for_update().filter(member=member, end__isnull=True).first()
    if current and on <= current.start:
        raise ValidationError(
            {"on": f"转接日期应晚于转入当前组织的日期（{current.start:%Y年%m月%d日}）。"}
        )
    if on > timezone.localdate() + datetime.timedelta(days=366):
        raise ValidationError({"on": "转接日期不能超过一年以后。"})
    from_org = member.org
    if current:
        current.end = on
        current.save(update_fields=["end"])
    new = Membership.objects.create(member=member, org=to_org, start=on, note=note)
    member.org = to_org
    member.save(update_fields=["org", "updated_at"])
    Organization.objects.filter(pk=from_org.pk, secretary=member).update(secretary=None)
    audit(
        by=by,
        action="member_transfer",
        org=from_org,
        member=member,
        summary=f"“{member.name}”自{on:%Y年%m月%d日}由“{from_org.name}”转至“{to_org.name}”",
        changes={"org": [from_org.code, to_org.code], "on": on.isoformat(), "note": note},
    )
    return new


@transaction.atomic
def role_grant(*, by, user, org: Organization, role: Role) -> None:
    """Give `user` the `role` at `org`; it reaches the whole subtree."""
    assign_perm(f"orgs.{Role(role).codename}", user, org)
    forget_grants(user)
    audit(
        by=by,
        action="role_grant",
        org=org,
        summary=f"授予 {user.get_username()} {Role(role).label}角色",
    )


def role_grant_exists(*, user, org: Organization, role: Role) -> bool:
    from orgs.models import OrganizationUserObjectPermission

    return OrganizationUserObjectPermission.objects.filter(
        user=user, content_object=org, permission__codename=Role(role).codename
    ).exists()


@transaction.atomic
def role_revoke(*, by, user, org: Organization, role: Role) -> None:
    remove_perm(f"orgs.{Role(role).codename}", user, org)
    forget_grants(user)
    audit(
        by=by,
        action="role_revoke",
        org=org,
        summary=f"撤销 {user.get_username()} {Role(role).label}角色",
    )


def may_assign_role(*, by, org: Organization, role: Role) -> bool:
    """A secretary is appointed from above (the parent's leaders); the other roles at an
    organisation are given by its own leaders or those above."""
    from orgs.access import Action, can

    if role == Role.SECRETARY:
        return org.parent_id is not None and can(by, Action.MANAGE, org.parent)
    return can(by, Action.MANAGE, org)


@transaction.atomic
def role_assign(
    *, by, org: Organization, role: Role, username: str = "", member: Member | None = None
) -> tuple[object, str]:
    """Give a role at `org` to an existing account, or to a member of `org` through a new login.

    Returns the user and, for a new login, its one-time password (shown once, never stored)."""
    import secrets

    from django.contrib.auth import get_user_model

    role = Role(role)
    if not may_assign_role(by=by, org=org, role=role):
        raise ValidationError(
            {"role": f"您不能在“{org.name}”授予{role.label}角色（书记由上级党组织任命）。"}
        )
    User = get_user_model()
    password = ""
    if member is not None:
        if member.org_id != org.pk:
            raise ValidationError({"member": f"“{member.name}”不是本组织的党员。"})
        if member.user_id:
            user = member.user
        else:
            name = username.strip() or f"dy{member.pk}"
            if User.objects.filter(username=name).exists():
                raise ValidationError({"username": f"用户名“{name}”已被使用。"})
            password = secrets.token_urlsafe(9)
            user = User.objects.create_user(
                username=name, password=password, first_name=member.name
            )
            Member.objects.filter(pk=member.pk).update(user=user)
            password_set_by(user=user, by=by)
    else:
        user = User.objects.filter(username=username.strip()).first()
        if user is None:
            raise ValidationError({"username": f"没有用户名为“{username.strip()}”的账号。"})
    if role_grant_exists(user=user, org=org, role=role):
        raise ValidationError({"role": f"{user.get_username()} 已是“{org.name}”的{role.label}。"})
    role_grant(by=by, user=user, org=org, role=role)
    return user, password


@transaction.atomic
def role_withdraw(*, by, org: Organization, role: Role, user) -> None:
    role = Role(role)
    if not may_assign_role(by=by, org=org, role=role):
        raise ValidationError(f"您不能撤销“{org.name}”的{role.label}角色。")
    if user.pk == getattr(by, "pk", None):
        raise ValidationError("不能撤销自己的角色，请由上级党组织办理。")
    role_revoke(by=by, user=user, org=org, role=role)
