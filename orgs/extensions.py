"""Hooks through which later apps add to the pages of orgs without orgs importing them.

An app registers in its AppConfig.ready():
- a to-do provider: f(user) -> list of {"text", "url", "count"[, "more"]} shown on the home page
  ("more": the count stopped at a cap, shown as "999+");
- an organisation link provider: f(user, org) -> list of {"text", "url"} shown on the org page;
- a page rule: route name -> f(user, *url_objects) -> bool, whether the user may open that page
  (the breadcrumbs link a page only when its rule says yes; see orgs/templatetags/crumbs.py).
"""

from collections.abc import Callable

todo_providers: list[Callable] = []
org_link_providers: list[Callable] = []
member_link_providers: list[Callable] = []
member_section_providers: list[Callable] = []
# f(*, scale, rng, today, log) -> dict of counts; called by seed_demo after the tree and roster
demo_seeders: list[Callable] = []
page_rules: dict[str, Callable[..., bool]] = {}


def todo_for(user) -> list[dict]:
    return [item for provider in todo_providers for item in provider(user)]


def org_links_for(user, org) -> list[dict]:
    return [link for provider in org_link_providers for link in provider(user, org)]


def member_links_for(user, member) -> list[dict]:
    return [link for provider in member_link_providers for link in provider(user, member)]


def member_sections_for(user, member) -> list[dict]:
    """Sections other apps add to the member page: f(user, member) -> list of {"title",
    "template", ...}, each drawn by its template (which receives the dict as `section`)."""
    return [part for provider in member_section_providers for part in provider(user, member)]


def may_open(user, route: str, *objects) -> bool:
    """Whether `user` may open the page `route` names for `objects` (its URL arguments)."""
    try:
        rule = page_rules[route]
    except KeyError:
        raise LookupError(f"no page rule registered for {route!r}") from None
    return rule(user, *objects)
