"""The access matrix rows of the background jobs' routes (merged into tests/test_access_matrix).

A job is its owner's alone: B1's secretary opens the job made for him on the fly; everyone else,
however high their roles, gets a 404. The shapes come from tests/matrix_notices, as this module
is imported by test_access_matrix before its own helpers exist.
"""

import datetime

from django.core.files.base import ContentFile
from django.utils import timezone

# the outcome shapes are the notices rows' (tests/matrix_notices), which do not import
# test_access_matrix either
from tests.matrix_notices import (
    CONTACT,
    COUNTY,
    DEPUTY,
    OFFICE_IN,
    OWN,
    PARENT,
    SELF,
    everyone,
    only,
)


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
    "jobs:list": (lambda p: {}, everyone()),
    "jobs:detail": (lambda p: {"pk": own_job(p).pk}, only(OWN, post=False)),
    "jobs:status": (lambda p: {"pk": own_job(p).pk}, only(OWN, post=False)),
    "jobs:download": (lambda p: {"pk": own_job(p).pk}, only(OWN, post=False)),
    # starting the export of a large roster: whoever may export B1's (the page that offers it is
    # orgs:roster_export); it answers POST only
    "jobs:roster_export": (
        lambda p: {"org_pk": p.orgs["B1"].pk},
        only(OWN, DEPUTY, PARENT, COUNTY, OFFICE_IN, inside_forbidden=(SELF, CONTACT), get=False),
    ),
}
