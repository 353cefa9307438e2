"""Review objects on top of the pledge world (tests/pledge_world.py), all about B1:

- extra["rm"]: own's signed review of m1 for 2026Q3, with a rectification item extra["item"];
- extra["ro"]: parent's draft review of B1 for 2026H1;
- extra["draw"]: parent's random draw over T1.
"""

import datetime

from orgs.periods import Period
from reviews import services
from tests.personas import Personas

Q3, H1 = Period(2026, "Q", 3), Period(2026, "H", 1)
TODAY = datetime.date(2026, 10, 10)


def review_fields(**extra):
    return {
        "method": "individual",
        "reviewed_on": datetime.date(2026, 9, 20),
        "achievements": "带头走访群众",
        "shortcomings": "学习不够系统",
        "direction": "加强理论学习",
    } | extra


def build_review_world(p: Personas) -> Personas:
    own, parent = p.user("own_branch_secretary"), p.user("parent_committee_secretary")
    rm = services.review_create(
        by=own,
        subject_kind="member",
        subject_member=p.members["m1"],
        period=Q3,
        today=TODAY,
        **review_fields(),
    )
    rm = services.review_sign(by=own, review=rm)
    item = services.rectification_issue(
        by=own,
        review=rm,
        requirement="每月参加一次集中学习",
        deadline=datetime.date(2026, 12, 31),
        today=TODAY,
    )
    ro = services.review_create(
        by=parent, subject_kind="org", subject_org=p.orgs["B1"], period=H1, today=TODAY,
        **review_fields(method="central", reviewed_on=datetime.date(2026, 6, 28)),
    )  # fmt: skip
    draw = services.random_draw(by=parent, scope=p.orgs["T1"], size=1, seed="fixed-seed")
    p.extra.update(rm=rm, item=item, ro=ro, draw=draw)
    return p
