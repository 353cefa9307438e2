"""Pledge objects on top of the personas, all inside B1 (see tests/personas.py):

- extra["pm"]: m1's annual pledge, published, past its due date and not done (overdue), with a
  fulfilment carrying an attachment and an open rectification;
- extra["po"]: B1's own pledge, submitted to T1's secretary;
- extra["sp"]: the draft secretary's pledge letter of B1, whose secretary is "own".
"""

import datetime

from django.core.files.uploadedfile import SimpleUploadedFile

from orgs import services as org_services
from pledges import letters, services
from pledges.models import Pledge, PledgeStatus, Progress
from tests.personas import Personas, make_member

YEAR = 2026
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def member_pledge_fields(**extra):
    return {
        "kind": "annual",
        "category": "serve_masses",
        "content": "每月走访困难群众一次",
        "target": "走访12次",
        "due_date": datetime.date(YEAR, 6, 30),
    } | extra


def org_pledge_fields(**extra):
    return {
        "kind": "annual",
        "category": "serve_people",
        "content": "年内修通村道两公里",
        "target": "村道2公里",
        "due_date": datetime.date(YEAR, 10, 31),
    } | extra


def force(pledge: Pledge, **fields) -> Pledge:
    """Move a pledge to a state directly, for setting up a scene."""
    Pledge.objects.filter(pk=pledge.pk).update(**fields)
    pledge.refresh_from_db()
    return pledge


def build_pledge_world(p: Personas) -> Personas:
    own, parent = p.user("own_branch_secretary"), p.user("parent_committee_secretary")
    secretary = make_member(p.orgs["B1"], "王书记", birth_date=datetime.date(1968, 3, 1))
    org_services.member_update(by=None, member=secretary, user=own)
    org_services.organization_update(by=None, org=p.orgs["B1"], secretary=secretary)
    p.orgs["B1"].refresh_from_db()
    today = datetime.date(YEAR, 2, 1)
    pm = services.pledge_create(
        by=own, year=YEAR, owner_member=p.members["m1"], **member_pledge_fields()
    )
    services.pledge_submit(by=own, pledge=pm, today=today)
    services.pledge_approve(by=own, pledge=pm)
    services.pledge_publish(by=own, pledge=pm)
    upload = SimpleUploadedFile("photo.png", PNG, content_type="image/png")
    services.fulfilment_record(
        by=own, pledge=pm, year=YEAR, period=1, text="走访3户", status=Progress.IN_PROGRESS,
        files=[upload], today=datetime.date(YEAR, 3, 1),
    )  # fmt: skip
    services.rectification_issue(
        by=own, pledge=pm, requirement="月底前补上走访", deadline=datetime.date(YEAR, 12, 31),
        today=datetime.date(YEAR, 7, 15),
    )  # fmt: skip
    po = services.pledge_create(by=own, year=YEAR, owner_org=p.orgs["B1"], **org_pledge_fields())
    services.pledge_submit(by=own, pledge=po, today=today)
    sp = letters.secretary_pledge_save(
        by=own, org=p.orgs["B1"], year=YEAR, post="党支部书记", term_start=datetime.date(2021, 1, 1),
        contact="13800000000", content="带头走访全村困难户",
    )  # fmt: skip
    pm.refresh_from_db()
    po.refresh_from_db()
    assert pm.status == PledgeStatus.PUBLISHED and po.status == PledgeStatus.SUBMITTED
    p.extra.update(
        pm=pm,
        po=po,
        sp=sp,
        rectification=pm.rectifications.get(),
        attachment=pm.fulfilments.get().attachments.get(),
        secretary=secretary,
    )
    del parent
    return p


def approved_org_pledge(p: Personas) -> Pledge:
    """B1's immediate pledge approved by T1's secretary and not yet published (made on demand,
    so that the shared world stays as described above)."""
    if "pa" not in p.extra:
        own, parent = p.user("own_branch_secretary"), p.user("parent_committee_secretary")
        pledge = services.pledge_create(
            by=own, year=YEAR, owner_org=p.orgs["B1"],
            **org_pledge_fields(kind="immediate", immediate_reason="stage_task", content="修桥"),
        )  # fmt: skip
        services.pledge_submit(by=own, pledge=pledge)
        p.extra["pa"] = services.pledge_approve(by=parent, pledge=pledge)
    return p.extra["pa"]
