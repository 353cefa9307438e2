"""Every route × every persona × GET/POST. Outside the scope is 404 — never 403, never 200.

A route missing from MATRIX fails test_every_route_is_in_the_matrix: a new route must say here
who may use it.
"""

import datetime
from collections import Counter, deque
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urljoin, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse

from tests import (
    matrix_jobs,
    matrix_ledgers,
    matrix_ledgers_office,
    matrix_notices,
    matrix_reports,
    matrix_reports_excel,
    matrix_submissions,
)
from tests.personas import PERSONA_NAMES
from tests.pledge_world import YEAR, approved_org_pledge

OK, LOGIN, FORBIDDEN, NOT_FOUND, NOT_ALLOWED = "ok", "login", "403", "404", "405"
LOGGED_IN = [p for p in PERSONA_NAMES if p != "anonymous"]


def only(*allowed, inside_forbidden=(), get=True, post=True):
    """Expected outcomes: `allowed` succeed; `inside_forbidden` see the object but may not act
    (403); every other logged-in persona is outside the scope (404); anonymous goes to login."""
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
        table[persona] = {
            "GET": outcome if get else (LOGIN if persona == "anonymous" else NOT_ALLOWED),
            "POST": outcome if post else (LOGIN if persona == "anonymous" else NOT_ALLOWED),
        }
    return table


def public():
    return {p: {"GET": OK, "POST": NOT_ALLOWED} for p in PERSONA_NAMES}


def everyone(get=True, post=False, anonymous=LOGIN):
    table = only(*LOGGED_IN, get=get, post=post)
    refused = NOT_ALLOWED if anonymous == OK else LOGIN  # the login redirect comes first
    table["anonymous"] = {
        "GET": anonymous if get else refused,
        "POST": anonymous if post else refused,
    }
    return table


OWN, SIB, PARENT, UNREL = (
    "own_branch_secretary",
    "sibling_branch_secretary",
    "parent_committee_secretary",
    "unrelated_committee_secretary",
)
OFFICE_IN, OFFICE_OUT, SELF = "office_inside", "office_outside", "member_self"
# B1's deputy acts for its secretary, but not in what is the secretary's own (his letter) or
# another's own (a review someone else signed); the county secretary manages B1's structure but
# vets and supervises only T1, his direct child; B1's contact leader sees B1's page and reviews B1.
DEPUTY, COUNTY, CONTACT = "own_branch_deputy", "county_secretary", "contact_leader"

# route name → (kwargs from the personas' objects, expected outcome per persona and method)
MATRIX = {
    "home": (lambda p: {}, everyone()),
    "login": (lambda p: {}, everyone(post=True, anonymous=OK)),
    # Logging out answers with the login page, for everyone; it takes POST only.
    "logout": (
        lambda p: {},
        {
            p: {"GET": NOT_ALLOWED if p != "anonymous" else LOGIN, "POST": LOGIN}
            for p in PERSONA_NAMES
        },
    ),
    "healthz": (lambda p: {}, everyone(anonymous=OK)),
    "favicon": (lambda p: {}, public()),  # a redirect to the static icon
    # every user changes their own password (a POST without data re-shows the form)
    "password_change": (lambda p: {}, everyone(post=True)),
    "orgs:detail": (
        lambda p: {"pk": p.orgs["B1"].pk},
        only(OWN, DEPUTY, PARENT, COUNTY, OFFICE_IN, SELF, CONTACT, post=False),
    ),
    "orgs:create": (
        lambda p: {"parent_pk": p.orgs["B1"].pk},
        only(OWN, DEPUTY, PARENT, COUNTY, inside_forbidden=(OFFICE_IN, SELF, CONTACT)),
    ),
    "orgs:edit": (
        lambda p: {"pk": p.orgs["B1"].pk},
        only(OWN, DEPUTY, PARENT, COUNTY, inside_forbidden=(OFFICE_IN, SELF, CONTACT)),
    ),
    "orgs:move": (
        lambda p: {"pk": p.orgs["B1"].pk},
        only(PARENT, COUNTY, inside_forbidden=(OWN, DEPUTY, OFFICE_IN, SELF, CONTACT)),
    ),
    "orgs:figures": (
        lambda p: {"pk": p.orgs["B1"].pk},
        only(OWN, DEPUTY, PARENT, COUNTY, inside_forbidden=(OFFICE_IN, SELF, CONTACT)),
    ),
    # an office covering the parent grants office and contact roles (granted from above only)
    "orgs:roles": (
        lambda p: {"pk": p.orgs["B1"].pk},
        only(OWN, DEPUTY, PARENT, COUNTY, OFFICE_IN, inside_forbidden=(SELF, CONTACT)),
    ),
    "orgs:role_revoke": (
        lambda p: {"pk": p.orgs["B1"].pk},
        only(OWN, DEPUTY, PARENT, COUNTY, OFFICE_IN, inside_forbidden=(SELF, CONTACT), get=False),
    ),
    "orgs:roster_export": (
        lambda p: {"pk": p.orgs["B1"].pk},
        only(OWN, DEPUTY, PARENT, COUNTY, OFFICE_IN, inside_forbidden=(SELF, CONTACT), post=False),
    ),
    "orgs:roster_import": (
        lambda p: {"pk": p.orgs["B1"].pk},
        only(OWN, DEPUTY, PARENT, COUNTY, inside_forbidden=(OFFICE_IN, SELF, CONTACT)),
    ),
    "orgs:member_create": (
        lambda p: {"org_pk": p.orgs["B1"].pk},
        only(OWN, DEPUTY, inside_forbidden=(PARENT, COUNTY, OFFICE_IN, SELF, CONTACT)),
    ),
    "orgs:roster_template": (lambda p: {}, everyone()),
    "orgs:member_list": (lambda p: {}, everyone()),
    "orgs:member_detail": (
        lambda p: {"pk": p.members["m1"].pk},
        only(OWN, DEPUTY, PARENT, COUNTY, OFFICE_IN, post=False),
    ),
    "orgs:member_edit": (
        lambda p: {"pk": p.members["m1"].pk},
        only(OWN, DEPUTY, inside_forbidden=(PARENT, COUNTY, OFFICE_IN)),
    ),
    "orgs:member_transfer": (
        lambda p: {"pk": p.members["m1"].pk},
        only(OWN, DEPUTY, PARENT, inside_forbidden=(COUNTY, OFFICE_IN)),
    ),
    # ---- pledges (objects from tests/pledge_world.py, all inside B1)
    "pledges:year": (
        lambda p: {"org_pk": p.orgs["B1"].pk, "year": YEAR},
        only(OWN, DEPUTY, PARENT, COUNTY, OFFICE_IN, inside_forbidden=(SELF, CONTACT), post=False),
    ),
    "pledges:publish_approved": (
        lambda p: {"org_pk": p.orgs["B1"].pk, "year": YEAR},
        only(OWN, DEPUTY, inside_forbidden=(PARENT, COUNTY, OFFICE_IN, SELF, CONTACT), get=False),
    ),
    "pledges:create_org": (
        lambda p: {"org_pk": p.orgs["B1"].pk},
        only(OWN, DEPUTY, inside_forbidden=(PARENT, COUNTY, OFFICE_IN, SELF, CONTACT)),
    ),
    "pledges:create_member": (
        lambda p: {"member_pk": p.members["m1"].pk},
        only(OWN, DEPUTY, inside_forbidden=(PARENT, COUNTY, OFFICE_IN)),
    ),
    "pledges:detail": (
        lambda p: {"pk": p.extra["pm"].pk},
        only(OWN, DEPUTY, PARENT, COUNTY, OFFICE_IN, post=False),
    ),
    "pledges:edit": (
        lambda p: {"pk": p.extra["pm"].pk},
        only(OWN, DEPUTY, inside_forbidden=(PARENT, COUNTY, OFFICE_IN)),
    ),
    "pledges:submit": (
        lambda p: {"pk": p.extra["pm"].pk},
        only(OWN, DEPUTY, inside_forbidden=(PARENT, COUNTY, OFFICE_IN), get=False),
    ),
    # approving asks first (GET: the confirmation page); withdrawing and reopening take a reason
    "pledges:approve": (
        lambda p: {"pk": p.extra["po"].pk},
        only(PARENT, inside_forbidden=(OWN, DEPUTY, COUNTY, OFFICE_IN)),
    ),
    "pledges:withdraw": (
        lambda p: {"pk": p.extra["po"].pk},
        only(OWN, DEPUTY, inside_forbidden=(PARENT, COUNTY, OFFICE_IN)),
    ),
    "pledges:reopen": (
        lambda p: {"pk": approved_org_pledge(p).pk},
        only(PARENT, inside_forbidden=(OWN, DEPUTY, COUNTY, OFFICE_IN)),
    ),
    "pledges:return": (
        lambda p: {"pk": p.extra["po"].pk},
        only(PARENT, inside_forbidden=(OWN, DEPUTY, COUNTY, OFFICE_IN), get=False),
    ),
    "pledges:publish": (
        lambda p: {"pk": p.extra["po"].pk},
        only(OWN, DEPUTY, PARENT, inside_forbidden=(COUNTY, OFFICE_IN), get=False),
    ),
    "pledges:fulfil": (
        lambda p: {"pk": p.extra["pm"].pk},
        only(OWN, DEPUTY, inside_forbidden=(PARENT, COUNTY, OFFICE_IN)),
    ),
    "pledges:rectify": (
        lambda p: {"pk": p.extra["pm"].pk},
        only(OWN, DEPUTY, inside_forbidden=(PARENT, COUNTY, OFFICE_IN)),
    ),
    "pledges:evaluate": (
        lambda p: {"pk": p.extra["pm"].pk},
        only(OWN, DEPUTY, inside_forbidden=(PARENT, COUNTY, OFFICE_IN)),
    ),
    "pledges:repledge": (
        lambda p: {"pk": p.extra["pm"].pk},
        only(OWN, DEPUTY, inside_forbidden=(PARENT, COUNTY, OFFICE_IN)),
    ),
    "pledges:mine": (lambda p: {}, everyone()),
    "pledges:vet_queue": (lambda p: {}, everyone()),
    "pledges:bulk_approve": (lambda p: {}, everyone(get=False, post=True)),
    "pledges:overdue": (lambda p: {}, everyone()),
    "pledges:missing": (lambda p: {}, everyone()),
    "pledges:rectifications": (lambda p: {}, everyone()),
    "pledges:rectification": (
        lambda p: {"pk": p.extra["rectification"].pk},
        only(OWN, DEPUTY, PARENT, COUNTY, OFFICE_IN),
    ),
    "pledges:attachment": (
        lambda p: {"pk": p.extra["attachment"].pk},
        only(OWN, DEPUTY, PARENT, COUNTY, OFFICE_IN, post=False),
    ),
    "pledges:window": (
        lambda p: {"org_pk": p.orgs["B1"].pk},
        only(OFFICE_IN, inside_forbidden=(OWN, DEPUTY, PARENT, COUNTY, SELF, CONTACT)),
    ),
    "pledges:secretary_pledge": (
        lambda p: {"org_pk": p.orgs["B1"].pk, "year": YEAR},
        {
            **only(OWN, inside_forbidden=(SELF, CONTACT)),
            # the letter is the secretary's own: the others who see it read it
            **{p: {"GET": OK, "POST": FORBIDDEN} for p in (DEPUTY, PARENT, COUNTY, OFFICE_IN)},
        },
    ),
    "pledges:secretary_submit": (
        lambda p: {"pk": p.extra["sp"].pk},
        only(OWN, inside_forbidden=(DEPUTY, PARENT, COUNTY, OFFICE_IN), get=False),
    ),
    "pledges:secretary_review": (
        lambda p: {"pk": p.extra["sp"].pk},
        only(PARENT, inside_forbidden=(OWN, DEPUTY, COUNTY, OFFICE_IN)),
    ),
    "pledges:secretary_report": (
        lambda p: {"pk": p.extra["sp"].pk},
        only(OWN, inside_forbidden=(DEPUTY, PARENT, COUNTY, OFFICE_IN)),
    ),
    "pledges:secretary_ledger": (
        lambda p: {"org_pk": p.orgs["B1"].pk, "year": YEAR},
        only(OWN, DEPUTY, PARENT, COUNTY, OFFICE_IN, inside_forbidden=(SELF, CONTACT), post=False),
    ),
    # ---- reviews (objects from tests/review_world.py)
    "reviews:quarter": (
        lambda p: {"org_pk": p.orgs["B1"].pk, "period": "2026Q3"},
        only(OWN, DEPUTY, PARENT, COUNTY, OFFICE_IN, inside_forbidden=(SELF, CONTACT), post=False),
    ),
    "reviews:half": (
        lambda p: {"org_pk": p.orgs["B1"].pk, "period": "2026H1"},
        only(OWN, DEPUTY, PARENT, COUNTY, OFFICE_IN, inside_forbidden=(SELF, CONTACT), post=False),
    ),
    "reviews:write_member": (
        lambda p: {"member_pk": p.members["m1"].pk, "period": "2026Q3"},
        only(OWN, DEPUTY, inside_forbidden=(PARENT, COUNTY, OFFICE_IN)),
    ),
    "reviews:write_org": (
        lambda p: {"org_pk": p.orgs["B1"].pk, "kind": "org", "period": "2026H1"},
        {
            # above B1 its leaders and its contact leader review it; nobody reviews their own
            **only(PARENT, COUNTY, CONTACT, OFFICE_IN, inside_forbidden=(OWN, DEPUTY, SELF)),
            # an office may only make random reviews: any other method is refused on POST
            OFFICE_IN: {"GET": OK, "POST": FORBIDDEN},
        },
    ),
    "reviews:detail": (
        lambda p: {"pk": p.extra["rm"].pk},
        only(OWN, DEPUTY, PARENT, COUNTY, OFFICE_IN, post=False),
    ),
    "reviews:edit": (
        lambda p: {"pk": p.extra["ro"].pk},
        only(PARENT, inside_forbidden=(OWN, DEPUTY, COUNTY, OFFICE_IN)),
    ),
    "reviews:sign": (
        lambda p: {"pk": p.extra["ro"].pk},
        only(PARENT, inside_forbidden=(OWN, DEPUTY, COUNTY, OFFICE_IN), get=False),
    ),
    "reviews:correct": (
        lambda p: {"pk": p.extra["rm"].pk},
        only(OWN, inside_forbidden=(DEPUTY, PARENT, COUNTY, OFFICE_IN), get=False),
    ),
    "reviews:item_add": (
        lambda p: {"pk": p.extra["rm"].pk},
        only(OWN, inside_forbidden=(DEPUTY, PARENT, COUNTY, OFFICE_IN), get=False),
    ),
    "reviews:item_update": (
        lambda p: {"pk": p.extra["item"].pk},
        only(OWN, DEPUTY, inside_forbidden=(PARENT, COUNTY, OFFICE_IN), get=False),
    ),
    "reviews:items": (lambda p: {}, everyone()),
    "reviews:exempt": (
        lambda p: {"kind": "member", "pk": p.members["m1"].pk, "period": "2026Q3"},
        only(PARENT, inside_forbidden=(OWN, DEPUTY, COUNTY, OFFICE_IN)),
    ),
    "reviews:coverage": (
        lambda p: {"org_pk": p.orgs["B1"].pk, "period": "2026Q3"},
        only(OWN, DEPUTY, PARENT, COUNTY, OFFICE_IN, inside_forbidden=(SELF, CONTACT), post=False),
    ),
    "reviews:draw": (
        lambda p: {"org_pk": p.orgs["B1"].pk},
        only(OWN, DEPUTY, PARENT, COUNTY, OFFICE_IN, inside_forbidden=(SELF, CONTACT)),
    ),
    "reviews:draw_detail": (
        lambda p: {"pk": p.extra["draw"].pk},
        only(PARENT, COUNTY, OFFICE_IN, post=False),
    ),
    # ---- democratic appraisal (objects from tests/appraisal_world.py)
    "appraisal:list": (
        lambda p: {"org_pk": p.orgs["B1"].pk},
        only(OWN, DEPUTY, PARENT, COUNTY, OFFICE_IN, SELF, CONTACT, post=False),
    ),
    "appraisal:create": (
        lambda p: {"org_pk": p.orgs["B1"].pk},
        only(OWN, DEPUTY, inside_forbidden=(PARENT, COUNTY, OFFICE_IN, SELF, CONTACT)),
    ),
    "appraisal:rule": (
        lambda p: {"org_pk": p.orgs["B1"].pk},
        only(OFFICE_IN, inside_forbidden=(OWN, DEPUTY, PARENT, COUNTY, SELF, CONTACT)),
    ),
    "appraisal:candidates": (
        lambda p: {"org_pk": p.orgs["B1"].pk},
        only(OWN, DEPUTY, PARENT, COUNTY, OFFICE_IN, inside_forbidden=(SELF, CONTACT), post=False),
    ),
    "appraisal:detail": (
        lambda p: {"pk": p.extra["ap_open"].pk},
        only(OWN, DEPUTY, PARENT, COUNTY, OFFICE_IN, SELF, CONTACT, post=False),
    ),
    **{
        route: (
            lambda p: {"pk": p.extra["ap_open"].pk},
            only(OWN, DEPUTY, inside_forbidden=(PARENT, COUNTY, OFFICE_IN, SELF, CONTACT), get=get),
        )
        for route, get in (
            ("appraisal:edit", True),
            ("appraisal:advance", False),
            ("appraisal:restore", False),
            ("appraisal:slips", True),
            ("appraisal:void", False),
            ("appraisal:close", False),
        )
    },
    "appraisal:exclude": (
        lambda p: {"pk": p.extra["subject"].pk},
        only(OWN, DEPUTY, inside_forbidden=(PARENT, COUNTY, OFFICE_IN, SELF, CONTACT), get=False),
    ),
    # tellers: the secretary or deputy, or a member of the branch with a login
    "appraisal:paper": (
        lambda p: {"pk": p.extra["ap_open"].pk},
        only(OWN, DEPUTY, SELF, inside_forbidden=(PARENT, COUNTY, OFFICE_IN, CONTACT)),
    ),
    "appraisal:paper_discard": (
        lambda p: {"pk": p.extra["ap_open"].pk},
        only(OWN, DEPUTY, inside_forbidden=(PARENT, COUNTY, OFFICE_IN, SELF, CONTACT), get=False),
    ),
    "appraisal:results": (
        lambda p: {"pk": p.extra["ap_done"].pk},
        only(OWN, DEPUTY, PARENT, COUNTY, OFFICE_IN, SELF, CONTACT, post=False),
    ),
    "appraisal:decide": (
        lambda p: {"pk": p.extra["ap_done"].pk},
        only(OWN, DEPUTY, inside_forbidden=(PARENT, COUNTY, OFFICE_IN, SELF, CONTACT), get=False),
    ),
    "appraisal:adopt": (
        lambda p: {"pk": p.extra["ap_done"].pk},
        only(OWN, DEPUTY, inside_forbidden=(PARENT, COUNTY, OFFICE_IN, SELF, CONTACT), get=False),
    ),
    "appraisal:publish": (
        lambda p: {"pk": p.extra["ap_done"].pk},
        only(OWN, DEPUTY, inside_forbidden=(PARENT, COUNTY, OFFICE_IN, SELF, CONTACT), get=False),
    ),
    # everyone who sees the session reads a 述职; the member and the secretary write it
    "appraisal:statement": (
        lambda p: {"pk": p.extra["subject"].pk},
        {
            **only(OWN, DEPUTY, SELF),
            **{p: {"GET": OK, "POST": FORBIDDEN} for p in (PARENT, COUNTY, OFFICE_IN, CONTACT)},
        },
    ),
    # the voting page: the one public route of the appraisal, answering everyone
    "vote:ballot": (
        lambda p: {"public_id": p.extra["ap_open"].public_id},
        {persona: {"GET": OK, "POST": OK} for persona in PERSONA_NAMES},
    ),
    # the public notice board (示诺): no login, for everyone
    "public:notice": (lambda p: {"code": "B1"}, public()),
    "public:qr": (lambda p: {"code": "B1"}, public()),
}

# Django's admin guards itself (staff only); it is for the provincial office.
MATRIX.update(matrix_notices.ROUTES)
MATRIX.update(matrix_jobs.ROUTES)
MATRIX.update(matrix_ledgers.ROUTES)
MATRIX.update(matrix_ledgers_office.ROUTES)
MATRIX.update(matrix_reports.ROUTES)
MATRIX.update(matrix_reports_excel.ROUTES)
MATRIX.update(matrix_submissions.ROUTES)

EXEMPT_NAMESPACES = {"admin"}


def _route_names(resolver=None, namespace=""):
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            ns = entry.namespace or ""
            if ns in EXEMPT_NAMESPACES:
                continue
            yield from _route_names(entry, f"{namespace}{ns}:" if ns else namespace)
        elif isinstance(entry, URLPattern) and entry.name:
            yield f"{namespace}{entry.name}"


def test_every_route_is_in_the_matrix():
    missing = sorted(set(_route_names()) - set(MATRIX))
    assert not missing, f"routes missing from the access matrix: {missing}"


def _outcome(response) -> str:
    if response.status_code in (301, 302) and "/login/" in response.get("Location", ""):
        return LOGIN
    return {403: FORBIDDEN, 404: NOT_FOUND, 405: NOT_ALLOWED}.get(response.status_code, OK)


def _without_pdf_layout(monkeypatch) -> None:
    """The print routes still fetch, check and draw their document; only WeasyPrint's layout,
    seconds per ledger and tested in tests/test_ledgers_pdf.py, is left out here."""
    monkeypatch.setattr("ledgers.pdf.render_pdf", lambda html: b"%PDF-1.7 " + html[:64].encode())


@pytest.mark.parametrize("route", sorted(MATRIX))
def test_route_access(route, world, client, monkeypatch):
    personas = world
    _without_pdf_layout(monkeypatch)
    kwargs_for, expected = MATRIX[route]
    url = reverse(route, kwargs=kwargs_for(personas))
    failures = []
    for persona in PERSONA_NAMES:
        user = personas.user(persona)
        for method in ("GET", "POST"):
            client.logout()
            if user is not None:
                client.force_login(get_user_model().objects.get(pk=user.pk))
            response = client.get(url) if method == "GET" else client.post(url, {})
            got = _outcome(response)
            if response.status_code >= 500:
                got = f"error {response.status_code}"
            if got != expected[persona][method]:
                failures.append(
                    f"{persona} {method}: expected {expected[persona][method]}, got {got}"
                )
    assert not failures, f"{route} {url}:\n" + "\n".join(failures)


# Routes that answer everyone: public pages, and lists that show only what is in the user's scope.
PUBLIC_OR_SCOPED_LISTS = {
    "home",
    "login",
    "logout",
    "healthz",
    "favicon",
    "password_change",
    "orgs:member_list",
    "orgs:roster_template",
    "pledges:mine",
    "pledges:vet_queue",
    "pledges:bulk_approve",
    "pledges:overdue",
    "pledges:missing",
    "pledges:rectifications",
    "public:notice",
    "public:qr",
    "reviews:items",
    "vote:ballot",
    "jobs:list",
}
PUBLIC_OR_SCOPED_LISTS |= matrix_notices.SCOPED_TO_THE_USER


def test_outside_scope_is_never_forbidden():
    """The matrix itself keeps the rule: personas outside B1's subtree only ever see 404."""
    for route, (_, expected) in MATRIX.items():
        for persona in (SIB, UNREL, OFFICE_OUT):
            for method, outcome in expected[persona].items():
                assert outcome != FORBIDDEN, (route, persona, method)
                if outcome == OK:
                    assert route in PUBLIC_OR_SCOPED_LISTS, (route, persona)


# ---------------------------------------------------------------- the crawl
# Every persona starts from the home page and follows every same-site link, breadth-first: each
# answers 200. A redirect answers only where a route documents one (below), and its target is
# crawled too. Nothing is posted; logging out is a form, so the crawl never meets it.

CRAWL_BOUND = 400  # pages per persona; the world has fewer (the test says if it is reached)
# Period navigation (previous / next year, quarter, page) never ends: of the pages that differ
# only in their period, the crawl opens the nearest few, breadth-first. The statistics' four tables
# and the names behind each number are variants of one page in the same way.
PERIOD_PARAMS = {"year", "period", "quarter", "half", "page", "table", "drill"}
PERIODS_PER_PAGE = 3
# route → why it redirects on a plain GET
DOCUMENTED_REDIRECTS = {
    "home": "anonymous users go to the login page",
}


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.hrefs.append(href)


def _same_site_links(page_url: str, html: str) -> list[str]:
    parser = _Links()
    parser.feed(html)
    links = []
    for href in parser.hrefs:
        url = urljoin("http://testserver" + page_url, href)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or parts.netloc != "testserver":
            continue
        links.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    return links


def _crawl_world(world) -> None:
    """What the crawl needs beyond the matrix's world: the township's published appraisal of its
    branches (whose results B1's page links to, for B1's readers who may not open the township's
    pages) and a published pledge of member_self's own."""
    from pledges import services as pledge_services
    from reviews.appraisal import services as appraisal_services
    from tests.appraisal_world import cast, open_appraisal
    from tests.pledge_world import member_pledge_fields

    own, parent = world.user("own_branch_secretary"), world.user("parent_committee_secretary")
    ap_org = open_appraisal(world, org="T1", kind="org", by=parent)
    for _, code in appraisal_services.slips_issue(
        by=parent, appraisal=ap_org, group="member", count=5
    ):
        cast(ap_org, code, 1, 2)
    ap_org = appraisal_services.appraisal_close(by=parent, appraisal=ap_org)
    world.extra["ap_org"] = appraisal_services.appraisal_publish(
        by=parent, appraisal=ap_org, low_turnout_confirmed=True
    )
    pledge = pledge_services.pledge_create(
        by=own, year=YEAR, owner_member=world.members["m1b"], **member_pledge_fields()
    )
    pledge_services.pledge_submit(by=own, pledge=pledge, today=datetime.date(YEAR, 2, 1))
    pledge_services.pledge_approve(by=own, pledge=pledge)
    pledge_services.pledge_publish(by=own, pledge=pledge)


def _page_key(url: str) -> tuple:
    """A page up to its period: the route, its other arguments and the other query keys."""
    parts = urlsplit(url)
    match = resolve(parts.path)
    args = sorted((k, v) for k, v in match.kwargs.items() if k not in PERIOD_PARAMS)
    query = sorted((k, v) for k, v in parse_qsl(parts.query) if k not in PERIOD_PARAMS)
    return (match.view_name, tuple(args), tuple(query))


def _crawl(client, persona: str) -> tuple[list[str], int]:
    """Breadth-first from the home page; the failures, and how many pages were opened."""
    failures, seen, queue = [], {reverse("home")}, deque([(reverse("home"), "start")])
    opened, per_page = 0, Counter()
    while queue and opened < CRAWL_BOUND:
        url, found_on = queue.popleft()
        key = _page_key(url)
        if per_page[key] >= PERIODS_PER_PAGE:
            continue
        per_page[key] += 1
        opened += 1
        try:
            response = client.get(url)
        except Exception as error:  # a 500: the test client re-raises the view's exception
            failures.append(f"{persona}: {url} (linked from {found_on}) raised {error!r}")
            continue
        route = resolve(urlsplit(url).path).view_name
        links = []
        if response.status_code in (301, 302) and route in DOCUMENTED_REDIRECTS:
            links = [response["Location"]]
        elif response.status_code != 200:
            failures.append(
                f"{persona}: {url} (linked from {found_on}) answered {response.status_code}"
            )
        elif response.get("Content-Type", "").startswith("text/html"):
            links = _same_site_links(url, response.content.decode())
        for link in links:
            if link not in seen:
                seen.add(link)
                queue.append((link, url))
    assert opened < CRAWL_BOUND, f"{persona}: the crawl reached its bound; raise CRAWL_BOUND"
    return failures, opened


def test_every_link_on_every_reachable_page_answers(world, client, monkeypatch):
    """The pages each persona reaches from home link only to pages the persona may open: no
    breadcrumb or button leads to a 404 or a 403 (issue 9, item 20)."""
    _crawl_world(world)
    _without_pdf_layout(monkeypatch)
    failures, opened = [], {}
    for persona in PERSONA_NAMES:
        client.logout()
        user = world.user(persona)
        if user is not None:
            client.force_login(get_user_model().objects.get(pk=user.pk))
        found, opened[persona] = _crawl(client, persona)
        failures += found
    assert opened["own_branch_secretary"] > 30 and opened["member_self"] > 5, opened
    assert opened[DEPUTY] > 30 and opened[COUNTY] > 30 and opened[CONTACT] > 5, opened
    assert not failures, "\n".join(failures)
