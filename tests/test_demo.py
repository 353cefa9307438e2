"""The demo province (tests/conftest.py builds it once per test database: the `demo` scene)."""

import pytest
from django.core.management import call_command
from django.urls import reverse

from orgs.models import Member, Membership, Organization


def _nested_set(org_rows):
    return {pk: (tree_id, lft, rght, level) for pk, tree_id, lft, rght, level in org_rows}


def test_demo_tree_is_a_valid_nested_set(demo):
    fields = ("pk", "tree_id", "lft", "rght", "level")
    computed = _nested_set(Organization.objects.values_list(*fields))
    Organization.objects.rebuild()
    assert _nested_set(Organization.objects.values_list(*fields)) == computed


def test_demo_scale_and_history(demo):
    assert 50 <= Organization.objects.filter(kind="branch").count() <= 80
    assert 1000 <= Member.objects.count() <= 2500
    assert Membership.objects.filter(end__isnull=True).count() == Member.objects.count()
    assert Membership.objects.filter(end__isnull=False).exists()  # a few transfers
    assert not Organization.objects.filter(kind="branch", secretary__isnull=True).exists()


def test_demo_branch_secretary_sees_only_their_branch(demo, client):
    assert client.login(username="zhibu_shuji", password="cxzy2026")
    response = client.get(reverse("orgs:member_list"))
    branch = Organization.objects.get(secretary__user__username="zhibu_shuji")
    assert {m.org_id for m in response.context["page"]} == {branch.pk}
    assert response.context["page"].paginator.count == branch.members.count()


def test_seed_refuses_a_non_empty_database_unless_asked_to_skip(demo):
    from django.core.management import CommandError

    with pytest.raises(CommandError):
        call_command("seed_demo", verbosity=0)
    call_command("seed_demo", "--if-empty", verbosity=0)
    assert Organization.objects.filter(kind="province").count() == 1


def test_demo_pages_render_for_the_demo_logins(demo, client):
    """Every page a demo login reaches from the home page renders, over real demo records."""
    from pledges.models import Pledge, Rectification, SecretaryPledge

    assert client.login(username="zhibu_shuji", password="cxzy2026")
    branch = Organization.objects.get(secretary__user__username="zhibu_shuji")
    year = Pledge.objects.values_list("year", flat=True).first()
    urls = [
        reverse("home"),
        reverse("orgs:detail", args=[branch.pk]),
        reverse("pledges:year", args=[branch.pk, year]),
        reverse("pledges:secretary_pledge", args=[branch.pk, year]),
        reverse("pledges:overdue"),
        reverse("pledges:rectifications"),
        reverse("pledges:missing"),
        reverse("pledges:mine"),
        reverse("public:notice", args=[branch.code]),
    ]
    urls += [reverse("pledges:detail", args=[p.pk]) for p in Pledge.objects.filter(org=branch)]
    for url in urls:
        assert client.get(url).status_code == 200, url
    assert SecretaryPledge.objects.filter(org=branch, status="approved").exists()
    client.logout()
    assert client.login(username="zhen_shuji", password="cxzy2026")
    town = Organization.objects.get(secretary__user__username="zhen_shuji")
    for url in [
        reverse("pledges:vet_queue"),
        reverse("pledges:secretary_ledger", args=[town.pk, year]),
        reverse("pledges:missing") + f"?org={town.pk}&year={year}",
        *[
            reverse("pledges:rectification", args=[r.pk])
            for r in Rectification.objects.filter(org__parent=town)
        ],
    ]:
        assert client.get(url).status_code == 200, url


def test_demo_review_pages_render(demo, client):
    from orgs.periods import HALF, QUARTER, Period
    from reviews.models import LeaderReview

    today = __import__("django.utils.timezone", fromlist=["x"]).localdate()
    q, h = Period.containing(today, QUARTER), Period.containing(today, HALF)
    assert client.login(username="zhen_shuji", password="cxzy2026")
    town = Organization.objects.get(secretary__user__username="zhen_shuji")
    urls = [
        reverse("reviews:half", args=[town.pk, h.slug]),
        reverse("reviews:coverage", args=[town.pk, q.slug]),
        reverse("reviews:draw", args=[town.pk]),
        reverse("reviews:items"),
    ]
    branch = town.get_children().filter(kind="branch").first()
    urls.append(reverse("reviews:quarter", args=[branch.pk, q.previous().slug]))
    urls += [
        reverse("reviews:detail", args=[r.pk])
        for r in LeaderReview.objects.filter(org__parent=town)[:20]
    ]
    for url in urls:
        assert client.get(url).status_code == 200, url
    secretary_login = branch.secretary.user.username
    assert secretary_login.startswith("sj_") or secretary_login.endswith("shuji")
