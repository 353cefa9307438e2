"""Hooks through which later apps add to the pages of orgs without orgs importing them.

An app registers in its AppConfig.ready():
- a to-do provider: f(user) -> list of {"text", "url", "count"} shown on the home page;
- an organisation link provider: f(user, org) -> list of {"text", "url"} shown on the org page.
"""

from collections.abc import Callable

todo_providers: list[Callable] = []
org_link_providers: list[Callable] = []
member_link_providers: list[Callable] = []
# f(*, scale, rng, today, log) -> dict of counts; called by seed_demo after the tree and roster
demo_seeders: list[Callable] = []


def todo_for(user) -> list[dict]:
    return [item for provider in todo_providers for item in provider(user)]


def org_links_for(user, org) -> list[dict]:
    return [link for provider in org_link_providers for link in provider(user, org)]


def member_links_for(user, member) -> list[dict]:
    return [link for provider in member_link_providers for link in provider(user, member)]
