"""The named people every access test uses, in one small province:

P 省委
├── C1 市委 ── K1 县委 ── T1 镇党委 ──┬── B1 党支部   (own branch: m1, m1b)
│                                      └── B2 党支部   (sibling: m2)
└── C2 市委 ── K2 县委 ── T2 镇党委 ──── B3 党支部   (unrelated: m3)

Secretaries of B1 ("own"; its deputy "deputy_own"), B2, T1 ("parent"), T2 and K1 (the county
secretary, two levels above B1: he manages B1's structure but vets only T1); office staff at K1 and
K2; B1's contact leader (联系点领导), who reads B1 alone and reviews it; m1b's own login.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model

from orgs import services
from orgs.models import Member, Organization, OrgKind, Role, Sector

PERSONA_NAMES = (
    "own_branch_secretary",
    "own_branch_deputy",
    "sibling_branch_secretary",
    "parent_committee_secretary",
    "unrelated_committee_secretary",
    "county_secretary",
    "contact_leader",
    "office_inside",
    "office_outside",
    "member_self",
    "anonymous",
)


@dataclass
class Personas:
    orgs: dict[str, Organization]
    members: dict[str, Member]
    users: dict[str, object]
    extra: dict = field(default_factory=dict)

    def user(self, name: str):
        return self.users.get(name)


def make_org(code, kind, parent=None, sector=Sector.RURAL, name=None) -> Organization:
    return services.organization_create(
        by=None, parent=parent, name=name or f"组织{code}", code=code, kind=kind, sector=sector
    )


def make_member(org, name, **extra) -> Member:
    fields = {
        "name": name,
        "gender": "男",
        "ethnicity": "汉族",
        "birth_date": datetime.date(1970, 5, 1),
        "joined_on": datetime.date(1995, 7, 1),
        "education": "高中",
        "since": datetime.date(2020, 1, 1),
    } | extra
    return services.member_create(by=None, org=org, **fields)


def make_user(username, role=None, org=None):
    user = get_user_model().objects.create_user(username=username, password="pw-123456")
    if role:
        services.role_grant(by=None, user=user, org=org, role=role)
    return get_user_model().objects.get(pk=user.pk)


def build_personas() -> Personas:
    o = {}
    o["P"] = make_org("P", OrgKind.PROVINCE, sector=Sector.ORGAN)
    o["C1"] = make_org("C1", OrgKind.CITY, o["P"], Sector.ORGAN)
    o["K1"] = make_org("K1", OrgKind.COUNTY, o["C1"], Sector.ORGAN)
    o["T1"] = make_org("T1", OrgKind.COMMITTEE, o["K1"])
    o["B1"] = make_org("B1", OrgKind.BRANCH, o["T1"])
    o["B2"] = make_org("B2", OrgKind.BRANCH, o["T1"])
    o["C2"] = make_org("C2", OrgKind.CITY, o["P"], Sector.ORGAN)
    o["K2"] = make_org("K2", OrgKind.COUNTY, o["C2"], Sector.ORGAN)
    o["T2"] = make_org("T2", OrgKind.COMMITTEE, o["K2"])
    o["B3"] = make_org("B3", OrgKind.BRANCH, o["T2"])
    m = {
        "m1": make_member(o["B1"], "李一"),
        "m1b": make_member(o["B1"], "李二", birth_date=datetime.date(1975, 1, 1)),
        "m2": make_member(o["B2"], "王二"),
        "m3": make_member(o["B3"], "张三"),
    }
    u = {
        "own_branch_secretary": make_user("own", Role.SECRETARY, o["B1"]),
        "own_branch_deputy": make_user("deputy_own", Role.DEPUTY, o["B1"]),
        "sibling_branch_secretary": make_user("sibling", Role.SECRETARY, o["B2"]),
        "parent_committee_secretary": make_user("parent", Role.SECRETARY, o["T1"]),
        "unrelated_committee_secretary": make_user("unrelated", Role.SECRETARY, o["T2"]),
        "county_secretary": make_user("county_secretary", Role.SECRETARY, o["K1"]),
        "contact_leader": make_user("contact_leader", Role.CONTACT, o["B1"]),
        "office_inside": make_user("office_in", Role.OFFICE, o["K1"]),
        "office_outside": make_user("office_out", Role.OFFICE, o["K2"]),
        "member_self": make_user("member_self", Role.MEMBER, o["B1"]),
        "anonymous": None,
    }
    services.member_update(by=None, member=m["m1b"], user=u["member_self"])
    for org in o.values():
        org.refresh_from_db()
    return Personas(o, m, u)
