import pytest
from django.core.management import call_command
from django.urls import reverse

from orgs.models import Member, Membership, Organization


@pytest.fixture
def demo(db):
    call_command("seed_demo", "--scale", "small", verbosity=0)


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
