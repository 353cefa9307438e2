"""Access-matrix rows for the 报送 routes of reports (merged into tests/test_access_matrix).

T1 (a 基层党委) reports to K1: T1's secretary submits it (its office staff would too); K1's
secretary and office staff read it and return it. Those who read T1's statistics read its
submissions, versions and attachments; K1's page of its children is read by K1's readers. A
reader who may not act is refused (403: the county's office and secretary do not report for T1;
T1's secretary does not return his own report). B1's people and everyone outside see none of it
(404).
"""

# the outcome shapes are the notices rows' (tests/matrix_notices), which do not import
# test_access_matrix either
from tests.matrix_notices import COUNTY, OFFICE_IN, PARENT, only

QUARTER = "2026Q3"
READERS_OF_T1 = (PARENT, COUNTY, OFFICE_IN)


def _t1_report(p):
    """T1's report for the third quarter of 2026, with one attachment (idempotent)."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from orgs.periods import Period
    from reports import submissions
    from reports.models import Submission

    found = Submission.objects.filter(org=p.orgs["T1"], period=QUARTER).order_by("-version")
    if found.exists():
        return found.first()
    return submissions.submission_create(
        by=p.user(PARENT),
        org=p.orgs["T1"],
        period=Period.parse(QUARTER),
        report_text="总体情况：点评全覆盖。",
        files=[SimpleUploadedFile("情况报告.pdf", b"%PDF-1.4\n%%EOF\n")],
    )


ROUTES: dict = {
    "reports:submissions": (lambda p: {"pk": p.orgs["T1"].pk}, only(*READERS_OF_T1, post=False)),
    # the form (GET) and the submission (POST; an empty report is a report)
    "reports:submission_submit": (
        lambda p: {"pk": p.orgs["T1"].pk, "period": QUARTER},
        only(PARENT, inside_forbidden=(COUNTY, OFFICE_IN)),
    ),
    "reports:submission_children": (
        lambda p: {"pk": p.orgs["K1"].pk, "period": QUARTER},
        only(COUNTY, OFFICE_IN, post=False),
    ),
    "reports:submission_detail": (
        lambda p: {"pk": _t1_report(p).pk},
        only(*READERS_OF_T1, post=False),
    ),
    # the confirmation (GET) and the return (POST; without a reason it shows the form again)
    "reports:submission_return": (
        lambda p: {"pk": _t1_report(p).pk},
        only(COUNTY, OFFICE_IN, inside_forbidden=(PARENT,)),
    ),
    "reports:submission_attachment": (
        lambda p: {"pk": _t1_report(p).attachments.get().pk},
        only(*READERS_OF_T1, post=False),
    ),
}
