"""Every route × every persona × GET/POST. Outside the scope is 404 — never 403, never 200.

A route missing from MATRIX fails test_every_route_is_in_the_matrix: a new route must say here
who may use it.
"""

import pytest
from django.contrib.auth import get_user_model
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.personas import PERSONA_NAMES

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
    "orgs:detail": (
        lambda p: {"pk": p.orgs["B1"].pk},
        only(OWN, PARENT, OFFICE_IN, SELF, post=False),
    ),
    "orgs:create": (
        lambda p: {"parent_pk": p.orgs["B1"].pk},
        only(OWN, PARENT, inside_forbidden=(OFFICE_IN, SELF)),
    ),
    "orgs:edit": (
        lambda p: {"pk": p.orgs["B1"].pk},
        only(OWN, PARENT, inside_forbidden=(OFFICE_IN, SELF)),
    ),
    "orgs:move": (
        lambda p: {"pk": p.orgs["B1"].pk},
        only(PARENT, inside_forbidden=(OWN, OFFICE_IN, SELF)),
    ),
    "orgs:figures": (
        lambda p: {"pk": p.orgs["B1"].pk},
        only(OWN, PARENT, inside_forbidden=(OFFICE_IN, SELF)),
    ),
    "orgs:roster_export": (
        lambda p: {"pk": p.orgs["B1"].pk},
        only(OWN, PARENT, OFFICE_IN, inside_forbidden=(SELF,), post=False),
    ),
    "orgs:roster_import": (
        lambda p: {"pk": p.orgs["B1"].pk},
        only(OWN, PARENT, inside_forbidden=(OFFICE_IN, SELF)),
    ),
    "orgs:member_create": (
        lambda p: {"org_pk": p.orgs["B1"].pk},
        only(OWN, inside_forbidden=(PARENT, OFFICE_IN, SELF)),
    ),
    "orgs:roster_template": (lambda p: {}, everyone()),
    "orgs:member_list": (lambda p: {}, everyone()),
    "orgs:member_detail": (
        lambda p: {"pk": p.members["m1"].pk},
        only(OWN, PARENT, OFFICE_IN, post=False),
    ),
    "orgs:member_edit": (
        lambda p: {"pk": p.members["m1"].pk},
        only(OWN, inside_forbidden=(PARENT, OFFICE_IN)),
    ),
    "orgs:member_transfer": (
        lambda p: {"pk": p.members["m1"].pk},
        only(OWN, PARENT, inside_forbidden=(OFFICE_IN,)),
    ),
}

# Django's admin guards itself (staff only); it is for the provincial office.
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


@pytest.mark.parametrize("route", sorted(MATRIX))
def test_route_access(route, personas, client):
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


def test_outside_scope_is_never_forbidden():
    """The matrix itself keeps the rule: personas outside B1's subtree only ever see 404."""
    for route, (_, expected) in MATRIX.items():
        for persona in (SIB, UNREL, OFFICE_OUT):
            for method, outcome in expected[persona].items():
                assert outcome != FORBIDDEN, (route, persona, method)
                if outcome == OK:
                    assert route in {
                        "home",
                        "login",
                        "logout",
                        "healthz",
                        "orgs:member_list",
                        "orgs:roster_template",
                    }, (route, persona)
