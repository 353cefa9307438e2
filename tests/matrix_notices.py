"""The access matrix rows of the notices and calendar routes (merged into tests/test_access_matrix).

The notices and the settings are each user's own: every logged-in persona opens their own (the
outside personas too, like the other lists scoped to the user); a notice of someone else is a
404. The feed answers whoever holds its secret address, without a login. Moving a date takes
CONFIGURE (office staff over the organisation): those who see B1 without it are refused (403).
"""

import datetime

from tests.personas import PERSONA_NAMES

# the outcomes and personas of tests/test_access_matrix, which imports this module first (so it
# cannot be imported from here)
OK, LOGIN, FORBIDDEN, NOT_FOUND, NOT_ALLOWED = "ok", "login", "403", "404", "405"
OWN, DEPUTY, PARENT, COUNTY = (
    "own_branch_secretary",
    "own_branch_deputy",
    "parent_committee_secretary",
    "county_secretary",
)
OFFICE_IN, SELF, CONTACT = "office_inside", "member_self", "contact_leader"


def _table(outcome_of, *, get=True, post=True) -> dict:
    """Per persona and method: `outcome_of(persona)` where the method is taken, else 405 (the
    login redirect comes first for anonymous)."""
    table = {}
    for persona in PERSONA_NAMES:
        outcome = outcome_of(persona)
        refused = LOGIN if persona == "anonymous" else NOT_ALLOWED
        table[persona] = {"GET": outcome if get else refused, "POST": outcome if post else refused}
    return table


def only(*allowed, inside_forbidden=(), get=True, post=True) -> dict:
    def outcome_of(persona):
        if persona == "anonymous":
            return LOGIN
        if persona in allowed:
            return OK
        return FORBIDDEN if persona in inside_forbidden else NOT_FOUND

    return _table(outcome_of, get=get, post=post)


def everyone(*, get=True, post=False) -> dict:
    return _table(lambda persona: LOGIN if persona == "anonymous" else OK, get=get, post=post)


def public() -> dict:
    """No login: everyone who has the address reads it; it takes GET only."""
    return {persona: {"GET": OK, "POST": NOT_ALLOWED} for persona in PERSONA_NAMES}


def _own_notice(p):
    from orgs.models import Reminder

    notice, _ = Reminder.objects.get_or_create(
        user=p.user(OWN),
        kind="stats_report",
        period="2026Q3",
        step="-7",
        defaults={"due_on": datetime.date(2026, 10, 16), "items": []},
    )
    return notice


def _own_feed_token(p):
    from orgs.notices import calendar_feed_for

    return calendar_feed_for(user=p.user(OWN)).token


INSIDE_WITHOUT_CONFIGURE = (OWN, DEPUTY, PARENT, COUNTY, SELF, CONTACT)

ROUTES: dict = {
    "notices:list": (lambda p: {}, everyone()),
    "notices:read": (lambda p: {"pk": _own_notice(p).pk}, only(OWN, get=False)),
    "notices:read_all": (lambda p: {}, everyone(get=False, post=True)),
    # a POST without boxes ticked turns every e-mail off (in-app notices stay)
    "notices:settings": (lambda p: {}, everyone(post=True)),
    "notices:feed_reset": (lambda p: {}, everyone(get=False, post=True)),
    "notices:feed": (lambda p: {"token": _own_feed_token(p)}, public()),
    "notices:calendar": (lambda p: {}, everyone()),
    "notices:org_calendar": (
        lambda p: {"org_pk": p.orgs["B1"].pk},
        only(OFFICE_IN, inside_forbidden=INSIDE_WITHOUT_CONFIGURE),
    ),
    "notices:org_calendar_clear": (
        lambda p: {"org_pk": p.orgs["B1"].pk},
        only(OFFICE_IN, inside_forbidden=INSIDE_WITHOUT_CONFIGURE, get=False),
    ),
}

# routes every persona opens, each on their own rows only (for test_outside_scope_is_never_forbidden)
SCOPED_TO_THE_USER = {
    "notices:list",
    "notices:read_all",
    "notices:settings",
    "notices:feed_reset",
    "notices:feed",
    "notices:calendar",
}
