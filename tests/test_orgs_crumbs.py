"""Breadcrumbs link a page only when the user may open it (orgs/templatetags/crumbs.py)."""

import datetime

import pytest
from django.template import Context, Template
from django.test import RequestFactory
from django.urls import reverse

from pledges import services as pledge_services
from tests.pledge_world import YEAR, build_pledge_world, member_pledge_fields


def render_crumb(user, source: str, **context) -> str:
    request = RequestFactory().get("/")
    request.user = user
    template = Template("{% load crumbs %}" + source)
    return template.render(Context({"request": request, **context}))


def test_a_crumb_links_a_page_the_user_may_open(personas):
    html = render_crumb(
        personas.user("own_branch_secretary"),
        '{% crumb "orgs:detail" org %}{{ org.name }}{% endcrumb %}',
        org=personas.orgs["B1"],
    )
    assert html == f'<a href="{reverse("orgs:detail", args=[personas.orgs["B1"].pk])}">组织B1</a>'


def test_a_crumb_carries_a_query_string(personas):
    html = render_crumb(
        personas.user("own_branch_secretary"),
        '{% crumb "orgs:detail" org year=year tab="a&b" %}{{ org.name }}{% endcrumb %}',
        org=personas.orgs["B1"],
        year=2026,
    )
    url = reverse("orgs:detail", args=[personas.orgs["B1"].pk])
    assert html == f'<a href="{url}?tab=a%26b&amp;year=2026">组织B1</a>'


def test_a_crumb_is_plain_text_where_the_page_would_be_404(personas):
    html = render_crumb(
        personas.user("own_branch_secretary"),
        '{% crumb "orgs:detail" org %}{{ org.name }}{% endcrumb %}',
        org=personas.orgs["T1"],
    )
    assert html == "组织T1"


def test_a_crumb_text_stays_escaped(personas):
    html = render_crumb(
        personas.user("own_branch_secretary"),
        '{% crumb "orgs:detail" org %}{{ name }}{% endcrumb %}',
        org=personas.orgs["B1"],
        name="<b>",
    )
    assert "&lt;b&gt;" in html and "<b>" not in html


def test_a_crumb_without_a_page_rule_is_an_error(personas):
    with pytest.raises(LookupError):
        render_crumb(personas.user("own_branch_secretary"), '{% crumb "home" %}x{% endcrumb %}')


def test_a_members_own_pledge_does_not_link_the_branch_pledge_list(personas, client):
    """The branch's pledge list is 403 for a plain member: the crumb is text."""
    world = build_pledge_world(personas)
    own = world.user("own_branch_secretary")
    pledge = pledge_services.pledge_create(
        by=own, year=YEAR, owner_member=world.members["m1b"], **member_pledge_fields()
    )
    pledge_services.pledge_submit(by=own, pledge=pledge, today=datetime.date(YEAR, 2, 1))
    client.force_login(world.user("member_self"))
    response = client.get(reverse("pledges:detail", args=[pledge.pk]))
    year_url = reverse("pledges:year", args=[world.orgs["B1"].pk, YEAR])
    assert response.status_code == 200
    assert f"{world.orgs['B1'].name} {YEAR}年公开承诺" in response.content.decode()
    assert year_url not in response.content.decode()
    assert client.get(year_url).status_code == 403
    client.force_login(own)
    assert year_url in client.get(reverse("pledges:detail", args=[pledge.pk])).content.decode()


def test_every_breadcrumb_in_the_templates_goes_through_the_crumb_tag():
    """A raw <a> in a breadcrumb would link whatever the user's rights."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    raw = []
    for path in [*root.glob("templates/**/*.html"), *root.glob("*/templates/**/*.html")]:
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if 'class="crumbs"' in line and "<a " in line:
                raw.append(f"{path.relative_to(root)}:{number}")
    assert not raw, raw
