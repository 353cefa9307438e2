"""pledges.access: the getters answer 404 outside the user's scope and 403 inside it for an action
the user may not take; the services refuse the same people with the same `can_*` rules."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.urls import reverse

from pledges import access, services
from pledges.access import LetterAction, PledgeAction
from pledges.models import Pledge, PledgeStatus, RectificationStatus
from tests.pledge_world import YEAR, member_pledge_fields

IN_WINDOW = datetime.date(YEAR, 2, 1)


@pytest.mark.parametrize(
    "persona, action, outcome",
    [
        ("own_branch_secretary", PledgeAction.EDIT, "ok"),
        ("own_branch_secretary", PledgeAction.VET, "ok"),
        ("parent_committee_secretary", PledgeAction.VIEW, "ok"),
        ("parent_committee_secretary", PledgeAction.EDIT, "403"),
        ("office_inside", PledgeAction.VET, "403"),
        ("office_outside", PledgeAction.VIEW, "404"),
        ("sibling_branch_secretary", PledgeAction.VIEW, "404"),
        ("member_self", PledgeAction.VIEW, "404"),  # m1b, not the owner m1
    ],
)
def test_the_pledge_getters_answer_404_outside_and_403_inside(world, persona, action, outcome):
    user, pm = world.user(persona), world.extra["pm"]
    getters = [
        lambda: access.get_pledge_for_user(user, pm.pk, action),
        lambda: access.get_rectification_for_user(user, world.extra["rectification"].pk, action),
    ]
    for get in getters:
        if outcome == "ok":
            get()
        else:
            with pytest.raises(Http404 if outcome == "404" else PermissionDenied):
                get()


@pytest.mark.parametrize("pk", ["abc", "1x", "²", "9" * 19, 10**9])
def test_ids_that_name_nothing_are_404(world, pk):
    own = world.user("own_branch_secretary")
    for get in (
        access.get_pledge_for_user,
        access.get_rectification_for_user,
        access.get_attachment_for_user,
        access.get_letter_for_user,
    ):
        with pytest.raises(Http404):
            get(own, pk)


def test_an_attachment_is_reached_through_its_pledge(world):
    attachment = world.extra["attachment"]
    for persona in ("own_branch_secretary", "parent_committee_secretary", "office_inside"):
        assert access.get_attachment_for_user(world.user(persona), attachment.pk) == attachment
    for persona in ("office_outside", "member_self", "sibling_branch_secretary"):
        with pytest.raises(Http404):
            access.get_attachment_for_user(world.user(persona), attachment.pk)


def test_the_letter_getter_and_the_letter_services_share_one_rule(world):
    from pledges import letters

    sp, own, parent = (
        world.extra["sp"],
        world.user("own_branch_secretary"),
        world.user("parent_committee_secretary"),
    )
    assert access.get_letter_for_user(own, sp.pk, LetterAction.SIGN) == sp
    with pytest.raises(PermissionDenied):
        access.get_letter_for_user(parent, sp.pk, LetterAction.SIGN)
    with pytest.raises(PermissionDenied):
        access.get_letter_for_user(own, sp.pk, LetterAction.REVIEW)
    with pytest.raises(Http404):
        access.get_letter_for_user(world.user("office_outside"), sp.pk)
    assert not access.can_sign_letter(parent, sp)
    with pytest.raises(ValidationError):
        letters.secretary_pledge_submit(by=parent, sp=sp)
    letters.secretary_pledge_submit(by=own, sp=sp)
    assert access.get_letter_for_user(parent, sp.pk, LetterAction.REVIEW) == sp


def test_rectification_rights_follow_the_pledge(world):
    item = world.extra["rectification"]
    own, parent = world.user("own_branch_secretary"), world.user("parent_committee_secretary")
    assert access.can_respond_rectification(own, item) and access.can_close_rectification(own, item)
    assert not access.can_respond_rectification(parent, item)
    assert not access.can_close_rectification(parent, item)
    item.status = RectificationStatus.CLOSED
    assert not access.can_respond_rectification(own, item)  # nothing left to report


# ---------------------------------------------------------------- publishing a branch's year


def _approved(world, by, member, content):
    pledge = services.pledge_create(
        by=by, year=YEAR, owner_member=member, **member_pledge_fields(content=content)
    )
    services.pledge_submit(by=by, pledge=pledge, today=IN_WINDOW)
    return services.pledge_approve(by=by, pledge=pledge)


def test_publishing_every_approved_pledge_of_a_branch(world):
    own = world.user("own_branch_secretary")
    a = _approved(world, own, world.members["m1b"], "走访")
    b = _approved(world, own, world.members["m1"], "义务劳动")
    with pytest.raises(ValidationError) as info:
        services.pledges_publish_approved(
            by=world.user("parent_committee_secretary"), org=world.orgs["B1"], year=YEAR
        )
    assert "只有本组织的书记、副书记可以公示" in " ".join(info.value.messages)
    assert services.pledges_publish_approved(by=own, org=world.orgs["B1"], year=YEAR) == 2
    for pledge in (a, b):
        pledge.refresh_from_db()
        assert pledge.status == PledgeStatus.PUBLISHED and pledge.published_on
        assert pledge.events.last().action == "publish"
    assert services.pledges_publish_approved(by=own, org=world.orgs["B1"], year=YEAR) == 0


def test_one_pledge_the_secretary_may_not_publish_stops_all(world):
    """The secretary's own member pledge is published by the deputy, not by themselves: the
    batch refuses and publishes none."""
    own = world.user("own_branch_secretary")
    other = _approved(world, own, world.members["m1b"], "走访")
    mine = services.pledge_create(
        by=own, year=YEAR, owner_member=world.extra["secretary"], **member_pledge_fields()
    )
    Pledge.objects.filter(pk=mine.pk).update(status=PledgeStatus.APPROVED)
    with pytest.raises(ValidationError):
        services.pledges_publish_approved(by=own, org=world.orgs["B1"], year=YEAR)
    assert set(
        Pledge.objects.filter(pk__in=[other.pk, mine.pk]).values_list("status", flat=True)
    ) == {PledgeStatus.APPROVED}


def test_the_year_page_publishes_through_the_service(client, world):
    own = world.user("own_branch_secretary")
    pledge = _approved(world, own, world.members["m1b"], "走访")
    client.force_login(own)
    url = reverse("pledges:publish_approved", args=[world.orgs["B1"].pk, YEAR])
    page = client.post(url, follow=True).content.decode()
    assert "已公示 1 项承诺。" in page
    pledge.refresh_from_db()
    assert pledge.status == PledgeStatus.PUBLISHED
    assert "没有待公示的承诺。" in client.post(url, follow=True).content.decode()
