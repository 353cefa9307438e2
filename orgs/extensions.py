"""Hooks through which later apps add to the pages of orgs without orgs importing them.

An app registers in its AppConfig.ready():
- a to-do provider: f(user) -> list of {"text", "url", "count"[, "more"]} shown on the home page
  ("more": the count stopped at a cap, shown as "999+");
- an organisation link provider: f(user, org) -> list of {"text", "url"} shown on the org page;
- a page rule: route name -> f(user, *url_objects) -> bool, whether the user may open that page
  (the breadcrumbs link a page only when its rule says yes; see orgs/templatetags/crumbs.py);
- a transfer hook: f(*, member, from_org, to_org, on, by), what the app moves with a member whose
  organisation changes (see member_transferred).
"""

from collections.abc import Callable

todo_providers: list[Callable] = []
org_link_providers: list[Callable] = []
member_link_providers: list[Callable] = []
member_section_providers: list[Callable] = []
# f(user, orgs) -> list of {"title", "template", ...}: sections other apps add to the home page
# (the statistics dashboards), for the organisations the user holds roles at
home_section_providers: list[Callable] = []
# f(*, scale, rng, today, log) -> dict of counts; called by seed_demo after the tree and roster
demo_seeders: list[Callable] = []
page_rules: dict[str, Callable[..., bool]] = {}
member_transfer_hooks: list[Callable] = []


def todo_for(user) -> list[dict]:
    return [item for provider in todo_providers for item in provider(user)]


def org_links_for(user, org) -> list[dict]:
    return [link for provider in org_link_providers for link in provider(user, org)]


def member_links_for(user, member) -> list[dict]:
    return [link for provider in member_link_providers for link in provider(user, member)]


def home_sections_for(user, orgs) -> list[dict]:
    """Sections other apps add to the home page, each drawn by its template (which receives the
    dict as `section`)."""
    return [part for provider in home_section_providers for part in provider(user, orgs)]


def member_sections_for(user, member) -> list[dict]:
    """Sections other apps add to the member page: f(user, member) -> list of {"title",
    "template", ...}, each drawn by its template (which receives the dict as `section`)."""
    return [part for provider in member_section_providers for part in provider(user, member)]


def member_transferred(*, member, from_org, to_org, on, by) -> None:
    """Tell every app that `member` moved from `from_org` to `to_org` on `on`. Called by
    orgs.services.member_transfer inside its transaction, so a hook that raises undoes the
    transfer. A hook follows the transfer and does not judge `by` again; it records who acted."""
    for hook in member_transfer_hooks:
        hook(member=member, from_org=from_org, to_org=to_org, on=on, by=by)


def may_open(user, route: str, *objects) -> bool:
    """Whether `user` may open the page `route` names for `objects` (its URL arguments)."""
    try:
        rule = page_rules[route]
    except KeyError:
        raise LookupError(f"no page rule registered for {route!r}") from None
    return rule(user, *objects)
