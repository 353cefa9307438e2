"""The demo province (tests/conftest.py builds it once per test database: the `demo` scene)."""

import pytest
from django.core.management import call_command
from django.db.models import F
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


# ---------------------------------------------------------------- province scale, on the demo


def _activity(monkeypatch):
    """The province seeders' additions, run over the small demo (every organisation taking
    part in the appraisals, so that each kind of session appears)."""
    import random

    from django.utils import timezone

    from pledges import demo as pledge_demo
    from reviews import demo as review_demo
    from reviews.appraisal import demo as appraisal_demo

    monkeypatch.setattr(appraisal_demo, "SHARE", 1.0)
    today = timezone.localdate()
    rng = random.Random(5)
    made = {}
    for seeder in (
        pledge_demo.seed_activity,
        review_demo.seed_activity,
        appraisal_demo.seed_province,
    ):
        made.update(seeder(rng=rng, today=today, log=lambda text: None))
    return today, made


def test_province_fulfilment_reports_follow_the_pledges_progress(demo, monkeypatch):
    from orgs.periods import HALF, QUARTER, Period
    from pledges.models import PLEDGED, Fulfilment, Pledge, Progress, Rectification

    reported = set(Fulfilment.objects.values_list("pk", flat=True))
    rectified = set(Rectification.objects.values_list("pk", flat=True))
    today, made = _activity(monkeypatch)
    new = Fulfilment.objects.exclude(pk__in=reported).select_related("pledge")
    assert made["fulfilments"] == new.count() > 0
    latest = {}
    for report in new:
        pledge = report.pledge
        period = Period(report.year, QUARTER if pledge.owner_member_id else HALF, report.period)
        assert pledge.status in PLEDGED and report.org_id == pledge.org_id
        assert period.has_begun(today) and pledge.due_date >= period.start
        latest[pledge.pk] = max(latest.get(pledge.pk, (0, "")), (report.period, report.status))
    # the last report's progress is the pledge's (only a report moves it)
    progress = dict(Pledge.objects.filter(pk__in=latest).values_list("pk", "progress"))
    assert all(progress[pk] == status for pk, (_, status) in latest.items())
    items = Rectification.objects.exclude(pk__in=rectified).select_related("pledge")
    assert made["rectifications"] == items.count()
    for item in items:
        assert item.pledge.due_date < today and item.pledge.progress != Progress.DONE
        assert (item.closed_at is not None) == item.is_closed
    assert (
        Pledge.objects.filter(status="evaluated").exclude(result="").count() >= made["evaluations"]
    )


def test_province_exemptions_only_waive_reviews_not_written(demo, monkeypatch):
    from django.db.models import Exists, OuterRef

    from reviews.models import Exemption, LeaderReview, ReviewRectification

    before = set(ReviewRectification.objects.values_list("pk", flat=True))
    exempted = Exemption.objects.count()
    _, made = _activity(monkeypatch)
    assert made["exemptions"] == Exemption.objects.count() - exempted > 0
    same_period = {
        "year": OuterRef("year"),
        "period_kind": OuterRef("period_kind"),
        "period": OuterRef("period"),
        "subject_kind": OuterRef("subject_kind"),
    }
    live = LeaderReview.objects.live()
    members = Exemption.objects.filter(subject_kind="member")
    orgs = Exemption.objects.exclude(subject_kind="member")
    assert members.exists()
    assert not members.filter(
        Exists(live.filter(subject_member=OuterRef("subject_member"), **same_period))
    ).exists()
    assert not orgs.filter(
        Exists(live.filter(subject_org=OuterRef("subject_org"), **same_period))
    ).exists()
    # a branch's own secretary is reviewed above, never exempted by the branch
    assert not members.filter(org__secretary_id=F("subject_member_id")).exists()
    assert set(Exemption.objects.values_list("period_kind", flat=True)) <= {"Q", "H"}
    items = ReviewRectification.objects.exclude(pk__in=before).select_related("review")
    assert made["review_rectifications"] == items.count() > 0
    assert all(i.review.is_signed and i.org_id == i.review.org_id for i in items)


def test_province_appraisals_pass_appraisal_verify_and_are_decided_when_published(
    demo, monkeypatch
):
    import io

    from reviews.appraisal.models import Appraisal, AppraisalSubject, PaperCount

    before = set(Appraisal.objects.values_list("pk", flat=True))
    _, made = _activity(monkeypatch)
    new = Appraisal.objects.exclude(pk__in=before)
    assert made["appraisals"] == new.count() > 0
    assert {"member", "org"} == set(new.values_list("kind", flat=True))
    assert {"published", "closed", "plan"} >= set(new.values_list("state", flat=True))
    out = io.StringIO()
    call_command("appraisal_verify", "--all", stdout=out)
    assert "全部一致" in out.getvalue()
    counted = new.filter(state__in=["closed", "published"])
    assert PaperCount.objects.filter(appraisal__in=counted).count() >= 2 * counted.count()
    subjects = AppraisalSubject.objects.filter(appraisal__in=new)
    assert made["appraisal_subjects"] == subjects.count()
    published = subjects.filter(appraisal__state="published", appraisal__kind="member")
    assert published.exists() and not published.filter(final_grade="").exists()
    # a grade other than the one suggested carries its reason
    assert not published.exclude(final_grade=F("suggested_grade")).filter(override_reason="")
    assert not subjects.filter(appraisal__state="closed").exclude(final_grade="").exists()


def test_the_demo_ends_with_its_figures_rebuilt(demo):
    from django.utils import timezone

    from orgs import figures

    assert figures.check(figures.periods_of_year(timezone.localdate().year)) == []
