"""The access matrix rows of the background jobs' routes (merged into tests/test_access_matrix).

A job is its owner's alone: B1's secretary opens the job made for him on the fly; everyone else,
however high their roles, gets a 404. The shapes are spelled out here because this module is
imported by test_access_matrix before its helpers exist.
"""

import datetime

from django.core.files.base import ContentFile
from django.utils import timezone

from tests.personas import PERSONA_NAMES

OK, LOGIN, FORBIDDEN, NOT_FOUND, NOT_ALLOWED = "ok", "login", "403", "404", "405"
OWN, DEPUTY, PARENT, COUNTY = (
    "own_branch_secretary",
    "own_branch_deputy",
    "parent_committee_secretary",
    "county_secretary",
)
OFFICE_IN, SELF, CONTACT = "office_inside", "member_self", "contact_leader"


def _only(*allowed, inside_forbidden=(), get=True, post=True) -> dict:
    table = {}
    for persona in PERSONA_NAMES:
        if persona == "anonymous":
            outcome = LOGIN
        elif persona in allowed:
            outcome = OK
        elif persona in inside_forbidden:
            outcome = FORBIDDEN
        else:
            outcome = NOT_FOUND
        refused = LOGIN if persona == "anonymous" else NOT_ALLOWED
        table[persona] = {"GET": outcome if get else refused, "POST": outcome if post else refused}
    return table


def _everyone_reads() -> dict:
    table = {p: {"GET": OK, "POST": NOT_ALLOWED} for p in PERSONA_NAMES}
    table["anonymous"] = {"GET": LOGIN, "POST": LOGIN}
    return table


def own_job(p):
    """A finished export of B1 with its file, asked for by B1's secretary."""
    from orgs.models import Job, JobState

    now = timezone.now()
    job = Job.objects.create(
        user=p.user(OWN),
        kind="roster_export",
        title="导出花名册：组织B1",
        params={"org_id": p.orgs["B1"].pk},
        state=JobState.DONE,
        started_at=now,
        finished_at=now,
        expires_at=now + datetime.timedelta(hours=1),
    )
    job.result.save(f"{job.pk}-B1.xlsx", ContentFile(b"PK\x03\x04 roster"), save=False)
    job.result_name = "组织B1-花名册.xlsx"
    job.save(update_fields=["result", "result_name"])
    return job


ROUTES: dict = {
    # the list shows the user's own jobs only: everyone opens it
    "jobs:list": (lambda p: {}, _everyone_reads()),
    "jobs:detail": (lambda p: {"pk": own_job(p).pk}, _only(OWN, post=False)),
    "jobs:status": (lambda p: {"pk": own_job(p).pk}, _only(OWN, post=False)),
    "jobs:download": (lambda p: {"pk": own_job(p).pk}, _only(OWN, post=False)),
    # starting the export of a large roster: whoever may export B1's (the page that offers it is
    # orgs:roster_export); it answers POST only
    "jobs:roster_export": (
        lambda p: {"org_pk": p.orgs["B1"].pk},
        _only(OWN, DEPUTY, PARENT, COUNTY, OFFICE_IN, inside_forbidden=(SELF, CONTACT), get=False),
    ),
}
