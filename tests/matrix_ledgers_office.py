"""The access matrix rows of the county office's inspection, the verify page, the printed forms
and the batch print (merged into tests/test_access_matrix).

The inspection is read for K1 (the county: its secretary and office staff) and its drill-down
for T1 (T1's secretary too); a verify page and a ledger's PDF by whoever reads the ledger (its
member, member_self for m1b, and the reading roles over B1 — not B1's contact leader); the
点评意见表 and the 书记公开承诺书 by whoever reads the review or the letter; the batch of a period's
reviews takes a reading role over B1 (B1's member and contact leader see B1 without one: 403).
The batch print of B1's ledgers is started by B1's own secretary and deputy and by office staff
over it; T1's and K1's secretaries read B1 but do not keep its ledgers (403). Everyone else is
outside (404).
"""

# the outcome shapes are the notices rows' (tests/matrix_notices), which do not import
# test_access_matrix either
from tests.matrix_notices import CONTACT, COUNTY, DEPUTY, OFFICE_IN, OWN, PARENT, SELF, only

YEAR = 2026
READERS_OF_B1 = (OWN, DEPUTY, PARENT, COUNTY, OFFICE_IN)


def _m1b_ledger(p):
    """m1b's 2026 ledger, opened by B1's secretary (idempotent)."""
    from ledgers import services
    from ledgers.models import Ledger, LedgerKind

    services.ledgers_open(by=p.user(OWN), org=p.orgs["B1"], year=YEAR)
    return Ledger.objects.get(kind=LedgerKind.MEMBER, year=YEAR, member=p.members["m1b"])


ROUTES: dict = {
    "ledgers:inspection": (
        lambda p: {"pk": p.orgs["K1"].pk, "half": f"{YEAR}H1"},
        only(COUNTY, OFFICE_IN, post=False),
    ),
    "ledgers:unsigned": (
        lambda p: {"pk": p.orgs["T1"].pk, "half": f"{YEAR}H1"},
        only(PARENT, COUNTY, OFFICE_IN, post=False),
    ),
    "ledgers:verify": (
        lambda p: {"pk": _m1b_ledger(p).pk},
        only(*READERS_OF_B1, SELF, post=False),
    ),
    "ledgers:member_pdf": (
        lambda p: {"pk": p.members["m1b"].pk, "year": YEAR},
        only(*READERS_OF_B1, SELF, post=False),
    ),
    "ledgers:org_pdf": (
        lambda p: {"pk": p.orgs["B1"].pk, "year": YEAR},
        only(*READERS_OF_B1, post=False),
    ),
    # own's signed review of m1 (tests/review_world.py)
    "ledgers:review_pdf": (lambda p: {"pk": p.extra["rm"].pk}, only(*READERS_OF_B1, post=False)),
    "ledgers:reviews_pdf": (
        lambda p: {"pk": p.orgs["B1"].pk, "period": f"{YEAR}Q3"},
        only(*READERS_OF_B1, inside_forbidden=(SELF, CONTACT), post=False),
    ),
    # B1's secretary's letter (tests/pledge_world.py)
    "ledgers:letter_pdf": (lambda p: {"pk": p.extra["sp"].pk}, only(*READERS_OF_B1, post=False)),
    # the form (GET) and the start (POST; without a choice it shows the form again)
    "ledgers:batch": (
        lambda p: {"pk": p.orgs["B1"].pk, "year": YEAR},
        only(OWN, DEPUTY, OFFICE_IN, inside_forbidden=(PARENT, COUNTY, SELF, CONTACT)),
    ),
}
