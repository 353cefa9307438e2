"""Who may read, write and sign which 写实簿, in one place.

Reading: a member ledger by the member (own login) and by reading roles over the member's
organisation or the ledger's keeper; an organisation ledger by reading roles over the
organisation. Anything else is 404.

Signing, as the forms name the signers: 党员本人 with their own login; 党支部书记 — a secretary or a
deputy of the branch the section belongs to (for a quarter, the branch the member was in at its
end); 基层党组织书记 — of the organisation itself; 上级党组织书记 — of its parent. For a member
without a login, the branch's secretary records that the member signed the paper ledger.
"""

from __future__ import annotations

from django.http import Http404

from ledgers import sections as S
from orgs.access import (
    READING,
    Action,
    can,
    can_on_member,
    grants_for,
    is_own_record,
    object_id,
)
from orgs.models import Member, Organization, OrgKind, Role
from orgs.periods import Period, is_campaign_year
from orgs.selectors import memberships_of, own_member


def _reads(user, org: Organization | None) -> bool:
    return org is not None and any(g.role in READING and g.covers(org) for g in grants_for(user))


def can_view_member_ledger(user, member: Member, keeper: Organization | None = None) -> bool:
    return can_on_member(user, Action.VIEW, member) or _reads(user, keeper)


def can_view_org_ledger(user, org: Organization) -> bool:
    return org.kind in LEDGER_ORG_KINDS and _reads(user, org)


LEDGER_ORG_KINDS = (OrgKind.COMMITTEE, OrgKind.GENERAL_BRANCH, OrgKind.BRANCH)


def get_member_for_ledger(user, pk, *, year: int | None = None) -> Member:
    """The member `pk` whose ledger the user may read, else 404. With `year`, also a reading
    role over a branch the member belonged to in that year: a branch signs the quarters the
    member spent in it, after the member has moved on."""
    member = (
        Member.objects.select_related("org", "org__parent", "user").filter(pk=object_id(pk)).first()
    )
    if member is None:
        raise Http404("没有找到该写实簿。")
    if can_view_member_ledger(user, member):
        return member
    if year is not None and is_campaign_year(year) and grants_for(user):
        whole = Period.whole_year(year)
        rows = memberships_of(member_ids=[member.pk], start=whole.start, end=whole.end)
        if any(_reads(user, row.org) for row in rows.get(member.pk, [])):
            return member
    raise Http404("没有找到该写实簿。")


def get_org_for_ledger(user, pk) -> Organization:
    """The organisation `pk` whose ledger the user may read (a basic-level organisation with a
    parent, in a reading role's scope), else 404."""
    org = (
        Organization.objects.select_related("parent", "secretary")
        .filter(pk=object_id(pk), is_active=True, parent__isnull=False)
        .first()
    )
    if org is None or not can_view_org_ledger(user, org):
        raise Http404("没有找到该写实簿。")
    return org


def leading_role_at(user, org: Organization | None) -> Role | None:
    """The user's leading role held exactly at `org` (secretary before deputy), or None."""
    if org is None:
        return None
    roles = {g.role for g in grants_for(user) if g.org_id == org.pk}
    if Role.SECRETARY in roles:
        return Role.SECRETARY
    if Role.DEPUTY in roles:
        return Role.DEPUTY
    return None


def capacity_text(org: Organization, role: Role) -> str:
    """How the print names the signer: 党支部书记, or 党支部副书记（代书记签字）."""
    kind = OrgKind(org.kind).label
    if role == Role.SECRETARY:
        return f"{kind}书记"
    return f"{kind}副书记（代书记签字）"


def slot_org(view, section, slot: str) -> Organization | None:
    """The organisation on whose behalf `slot` of `section` is signed."""
    if slot == S.MEMBER_SELF or slot == S.BRANCH:
        return section.owner
    if slot == S.ORG_SELF:
        return view.org
    return view.org.parent if view.org is not None else None


def sign_refusal(user, view, section, slot: str, *, paper: bool = False) -> str | None:
    """Why `user` may not sign `slot` of `section` (None: may). Who, not when: the order and the
    period are the service's checks. Nobody signs the keeper's slot of their own ledger (a
    secretary's own member ledger is signed by a deputy, as their own pledge is vetted by
    another), nor the upper slot of an organisation they lead."""
    org = slot_org(view, section, slot)
    if org is None:
        return "该党员在本期末不在任何党支部，此栏无人签字。"
    if slot == S.MEMBER_SELF:
        if paper:
            if view.member.user_id is not None:
                return "该党员有本人账号，应由本人登录签字。"
            if leading_role_at(user, org) is None:
                return f"只有{org.name}的书记或副书记可以登记党员在纸质写实簿上的签字。"
            return None
        if not is_own_record(user, view.member):
            return "“党员本人”一栏只能由党员本人登录签字。"
        return None
    if paper:
        return "只有“党员本人”一栏可以登记纸质签字。"
    if leading_role_at(user, org) is None:
        return f"此栏应由{org.name}的书记（或副书记代签）签字。"
    if slot == S.BRANCH and is_own_record(user, view.member):
        return "不能以党支部书记身份为本人的写实簿签字，请由本支部其他书记或副书记签字。"
    if slot == S.UPPER and leading_role_at(user, view.org) is not None:
        return f"您同时是{view.org.name}的负责人，上级党组织一栏请由{org.name}的其他负责人签字。"
    return None


def signer_identity(user, org: Organization, slot: str) -> tuple[str, str]:
    """(name, capacity) for a signature by `user` on behalf of `org` in `slot`."""
    member = own_member(user=user)
    name = member.name if member else (user.get_full_name() or user.get_username())
    if slot == S.MEMBER_SELF:
        return name, "党员本人"
    return name, capacity_text(org, leading_role_at(user, org))


def withdraw_refusal(user, signature) -> str | None:
    """The signer while still in the post signed in (the member themselves; a secretary or
    deputy of the organisation signed for), or a secretary (or deputy) of the organisation above
    the one the signature was made for, may withdraw it."""
    org = signature.org
    if (
        getattr(user, "is_authenticated", False)
        and signature.signer_id is not None
        and signature.signer_id == user.pk
        and (signature.slot == S.MEMBER_SELF or leading_role_at(user, org) is not None)
    ):
        return None
    if signature.slot == S.MEMBER_SELF:
        if leading_role_at(user, org) is not None:
            return None  # the branch is above its member
    elif org.parent_id is not None and can(user, Action.SUPERVISE, org):
        return None
    return "只有签字人本人或上一级党组织书记可以撤回此签字。"


def note_refusal(user, view, section, kind: str) -> str | None:
    """Who writes what: the keeper's secretary the 简要总结, the 缺记录说明 and the 另附页; the
    member (or the organisation's secretary) the draft of the summary, and the 另附页 of a
    section they sign."""
    keeper_side = S.BRANCH if view.is_member else S.UPPER
    keeper_org = slot_org(view, section, keeper_side)
    leads_keeper = leading_role_at(user, keeper_org) is not None
    if kind == "draft":
        if view.is_member and is_own_record(user, view.member):
            return None
        if not view.is_member and leading_role_at(user, view.org) is not None:
            return None
        if leads_keeper:
            return None
        return "初稿由党员本人（或本组织书记）填写。"
    if kind == "supplement" and any(
        sign_refusal(user, view, section, slot) is None for slot in section.spec.slots
    ):
        return None
    if leads_keeper:
        return None
    return f"此项由{keeper_org.name if keeper_org else '上级党组织'}书记填写。"
