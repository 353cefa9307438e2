"""Access-matrix rows for the statistics tables of reports (merged into tests/test_access_matrix).

B1's tables, one table for a period and the names behind one of B1's own numbers are read by a
reading role over B1 (B1's own secretary and deputy, T1's and K1's secretaries, K1's office
staff); B1's member and contact leader see B1 without one (403); everyone else is outside (404).
The pages are read only: a POST is 405.
"""

# the outcome shapes are the notices rows' (tests/matrix_notices), which do not import
# test_access_matrix either
from tests.matrix_notices import CONTACT, COUNTY, DEPUTY, OFFICE_IN, OWN, PARENT, SELF, only

READERS_OF_B1 = (OWN, DEPUTY, PARENT, COUNTY, OFFICE_IN)
READ_ONLY = only(*READERS_OF_B1, inside_forbidden=(SELF, CONTACT), post=False)

ROUTES: dict = {
    "reports:index": (lambda p: {"org_pk": p.orgs["B1"].pk}, READ_ONLY),
    "reports:table": (
        lambda p: {"table": "reviews", "org_pk": p.orgs["B1"].pk, "period": "2026Q3"},
        READ_ONLY,
    ),
    # the rate's drill: B1's members owed a review but not reviewed
    "reports:names": (
        lambda p: {
            "table": "reviews",
            "org_pk": p.orgs["B1"].pk,
            "period": "2026Q3",
            "drill": "members_owed-members_reviewed",
        },
        READ_ONLY,
    ),
}
