"""Appraisal objects on top of the personas, all run by B1 (own is its secretary):

- extra["ap_open"]: B1's 2026 member appraisal, voting by code and paper, 6 党员 slips issued
  (codes in extra["codes"]), two ballots cast; extra["subject"] is m1b's subject (member_self);
- extra["ap_done"]: B1's 2025 member appraisal, 5 ballots of 6 party members expected (no
  masses), closed, decided and published.
"""

import datetime

from reviews.appraisal import services
from tests.personas import Personas

TODAY = datetime.date(2026, 11, 20)


def plan_fields(**extra):
    return {
        "held_on": datetime.date(2026, 11, 20),
        "place": "村委会会议室",
        "method": "both",
        "content": "围绕公开承诺落实情况进行评议",
        "expected_member": 6,
        "expected_masses": 4,
        "expected_leader": 0,
        "expected_recipient": 0,
    } | extra


def open_appraisal(p: Personas, *, org="B1", kind="member", year=2026, by=None, **extra):
    """An appraisal of `org` taken to voting."""
    by = by or p.user("own_branch_secretary")
    fields = plan_fields(held_on=datetime.date(year, 11, 20)) | extra
    appraisal = services.appraisal_create(
        by=by, org=p.orgs[org], kind=kind, year=year, today=TODAY, **fields
    )
    services.appraisal_advance(by=by, appraisal=appraisal)
    return services.appraisal_advance(by=by, appraisal=appraisal)


def cast(appraisal, code, *grades):
    marks = {i: g for i, g in enumerate(grades, start=1)}
    services.ballot_cast(appraisal_id=appraisal.pk, code=code, marks=marks)


def build_appraisal_world(p: Personas) -> Personas:
    own = p.user("own_branch_secretary")
    ap_open = open_appraisal(p)
    codes = [
        code for _, code in services.slips_issue(by=own, appraisal=ap_open, group="member", count=6)
    ]
    cast(ap_open, codes[0], 1, 2)
    cast(ap_open, codes[1], 2, None)
    ap_done = open_appraisal(p, year=2025, expected_masses=0)
    done_codes = services.slips_issue(by=own, appraisal=ap_done, group="member", count=5)
    for _, code in done_codes:
        cast(ap_done, code, 1, 1)
    ap_done = services.appraisal_close(by=own, appraisal=ap_done)
    services.results_decide(
        by=own,
        appraisal=ap_done,
        decisions={
            s.pk: (s.suggested_grade or "pass", "" if s.suggested_grade else "支部委员会认定")
            for s in ap_done.subjects.all()
        },
    )
    ap_done = services.appraisal_publish(by=own, appraisal=ap_done)
    subject = ap_open.subjects.get(member=p.members["m1b"])
    p.extra.update(ap_open=ap_open, ap_done=ap_done, codes=codes, subject=subject)
    return p
