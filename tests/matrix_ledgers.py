"""The access matrix rows of the 写实簿 pages (merged into tests/test_access_matrix).

Reading: a branch's grid and an organisation's ledger take a reading role over the organisation
(its own leaders, those above, office staff); B1's member and its contact leader see B1 without
one (403). A member's ledger is read by those and by the member (member_self is m1b), never by the
contact leader (404). Acting: the branch's own secretary and deputy sign and open the branch's
ledgers; T1's secretary signs the 上级党组织 slots of its children's ledgers; a note is written by
the keeper's leaders, a draft also by the member; a signature is withdrawn by its signer or the
secretary of the organisation above. Whoever sees the page but may not act is refused (403); a
ledger outside the scope is 404.
"""

import datetime

from tests.personas import PERSONA_NAMES

# the outcomes and personas of tests/test_access_matrix, which imports this module first
OK, LOGIN, FORBIDDEN, NOT_FOUND, NOT_ALLOWED = "ok", "login", "403", "404", "405"
OWN, DEPUTY, PARENT, COUNTY = (
    "own_branch_secretary",
    "own_branch_deputy",
    "parent_committee_secretary",
    "county_secretary",
)
OFFICE_IN, SELF, CONTACT = "office_inside", "member_self", "contact_leader"
YEAR = 2026


def only(*allowed, inside_forbidden=(), get=True, post=True) -> dict:
    table = {}
    for persona in PERSONA_NAMES:
        if persona == "anonymous":
            outcome = LOGIN
        elif persona in allowed:
            outcome = OK
        else:
            outcome = FORBIDDEN if persona in inside_forbidden else NOT_FOUND
        refused = LOGIN if persona == "anonymous" else NOT_ALLOWED
        table[persona] = {"GET": outcome if get else refused, "POST": outcome if post else refused}
    return table


def _b1(p):
    return {"pk": p.orgs["B1"].pk, "year": YEAR}


def _t1(p):
    return {"pk": p.orgs["T1"].pk, "year": YEAR}


def _m1b(p, **extra):
    return {"pk": p.members["m1b"].pk, "year": YEAR, **extra}


def _b1_ledger(p, **extra):
    return {"pk": p.orgs["B1"].pk, "year": YEAR, **extra}


def _own_signature(p):
    """own's signature of m1's third-quarter review (the world's signed review of m1)."""
    from ledgers import services
    from ledgers.models import Signature

    found = Signature.objects.filter(
        ledger__member=p.members["m1"], section="q3r", withdrawn_at__isnull=True
    ).first()
    if found is None:
        found = services.ledger_sign(
            by=p.user(OWN),
            subject=p.members["m1"],
            year=YEAR,
            section="q3r",
            slot="branch",
            today=datetime.date(YEAR, 12, 1),
        )
    return {"pk": found.pk}


READERS_OF_B1 = (OWN, DEPUTY, PARENT, COUNTY, OFFICE_IN)

ROUTES: dict = {
    "ledgers:branch": (_b1, only(*READERS_OF_B1, inside_forbidden=(SELF, CONTACT), post=False)),
    # an empty post: "请先勾选要签字的栏目" and back to the grid
    "ledgers:branch_sign": (
        _b1,
        only(OWN, DEPUTY, inside_forbidden=(PARENT, COUNTY, OFFICE_IN, SELF, CONTACT), get=False),
    ),
    "ledgers:open": (
        _b1,
        only(OWN, DEPUTY, inside_forbidden=(PARENT, COUNTY, OFFICE_IN, SELF, CONTACT), get=False),
    ),
    "ledgers:children": (_t1, only(PARENT, COUNTY, OFFICE_IN, post=False)),
    "ledgers:children_sign": (_t1, only(PARENT, inside_forbidden=(COUNTY, OFFICE_IN), get=False)),
    "ledgers:member": (_m1b, only(*READERS_OF_B1, SELF, post=False)),
    "ledgers:history": (_m1b, only(*READERS_OF_B1, SELF, post=False)),
    # the page asks first; a post without its confirmation shows the page again
    "ledgers:member_sign": (
        lambda p: _m1b(p, section="pledge", slot="branch"),
        only(OWN, DEPUTY, inside_forbidden=(PARENT, COUNTY, OFFICE_IN, SELF)),
    ),
    # the draft of the 简要总结: the member, or the keeping branch's leaders; an empty post
    # deletes nothing and returns to the ledger
    "ledgers:member_note": (
        lambda p: _m1b(p, section="year", kind="draft"),
        only(OWN, DEPUTY, SELF, inside_forbidden=(PARENT, COUNTY, OFFICE_IN)),
    ),
    "ledgers:org": (_b1_ledger, only(*READERS_OF_B1, post=False)),
    "ledgers:org_history": (_b1_ledger, only(*READERS_OF_B1, post=False)),
    "ledgers:org_sign": (
        lambda p: _b1_ledger(p, section="h1r", slot="upper"),
        only(PARENT, inside_forbidden=(OWN, DEPUTY, COUNTY, OFFICE_IN)),
    ),
    # the organisation's draft: its own leaders, or the keeper's (T1)
    "ledgers:org_note": (
        lambda p: _b1_ledger(p, section="year", kind="draft"),
        only(OWN, DEPUTY, PARENT, inside_forbidden=(COUNTY, OFFICE_IN)),
    ),
    # the signer, or the secretary of the organisation above the one signed for; a post without
    # a reason shows the form again
    "ledgers:withdraw": (
        _own_signature,
        only(OWN, PARENT, inside_forbidden=(DEPUTY, COUNTY, OFFICE_IN)),
    ),
}
