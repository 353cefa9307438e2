"""Access-matrix rows for the Excel routes of reports (merged into tests/test_access_matrix).

A table's workbook is read by whoever reads B1's statistics: a reading role over it (B1's own
secretary and deputy, T1's and K1's secretaries, K1's office staff); B1's member and contact
leader see B1 without one (403); everyone else is outside (404). "Download all" is the same
right, POST only: an empty POST takes each table's current period and starts the job.
"""

# the outcome shapes are the notices rows' (tests/matrix_notices), which do not import
# test_access_matrix either
from tests.matrix_notices import CONTACT, COUNTY, DEPUTY, OFFICE_IN, OWN, PARENT, SELF, only

READERS_OF_B1 = (OWN, DEPUTY, PARENT, COUNTY, OFFICE_IN)

ROUTES: dict = {
    "reports:xlsx": (
        lambda p: {"table": "reviews", "org_pk": p.orgs["B1"].pk, "period": "2026Q3"},
        only(*READERS_OF_B1, inside_forbidden=(SELF, CONTACT), post=False),
    ),
    "reports:xlsx_all": (
        lambda p: {"org_pk": p.orgs["B1"].pk},
        only(*READERS_OF_B1, inside_forbidden=(SELF, CONTACT), get=False),
    ),
}
