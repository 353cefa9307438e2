"""The kept 领导点评 figures (reviews/figures.py) on a small tree where every number is known; the
names behind each figure; coverage read from the same figures.

K 县委 ── T 镇党委 (secretary ts) ─┬── B1 党支部 (secretary s1; a, b, c, d)
                                   ├── B2 党支部 (no secretary; e, f)
                                   └── B3 党支部 (secretary s3; g)

This quarter (Q) and its half-year (H), all through the services:
- B1: a reviewed (集中, three items: one open, one closed, one overdue), b reviewed (个别, then
  corrected: one signed version counts), c a draft, d exempted; s1 is reviewed half-yearly.
- B2: e (现场) and f (集中) reviewed.
- B3: g not reviewed.
- T reviews B1 (现场) and B3's secretary (集中); B3 itself is exempted by K; K's own review of
  B2 (个别) does not meet T's obligation; K reviews T (随机), which meets it.

The organisations are made today, so the quarter is today's: an organisation change refreshes
the figures of the period it happens in."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from orgs import figures
from orgs import services as org_services
from orgs.models import OrgKind, Role
from orgs.periods import HALF, QUARTER, Period
from reviews import figures as review_figures
from reviews import selectors, services
from reviews.models import LeaderReview, ReviewFigure, ReviewRectification
from tests.personas import make_member, make_org, make_user

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()
Q = Period.containing(TODAY, QUARTER)
H = Period.containing(TODAY, HALF)
COLUMNS = figures.columns(ReviewFigure)

EXPECTED = {
    "K": {"reviewers_owed": 1},
    "T": {
        "orgs_owed": 1, "orgs_reviewed": 1, "secretaries_owed": 1,
        "reviewers_owed": 1, "by_random": 1,
    },
    "B1": {
        "members_owed": 3, "members_reviewed": 2, "exempt_members": 1,
        "orgs_owed": 1, "orgs_reviewed": 1, "secretaries_owed": 1,
        "reviewers_owed": 1,
        "by_central": 1, "by_individual": 1, "by_onsite": 1,
        "rect_raised": 3, "rect_closed": 1, "rect_overdue": 1,
    },
    "B2": {
        "members_owed": 2, "members_reviewed": 2, "orgs_owed": 1,
        "reviewers_owed": 1, "reviewers_done": 1,
        "by_central": 1, "by_individual": 1, "by_onsite": 1,
    },
    "B3": {
        "members_owed": 1, "secretaries_owed": 1, "secretaries_reviewed": 1, "exempt_orgs": 1,
        "reviewers_owed": 1, "by_central": 1,
    },
}  # fmt: skip


def _full(values: dict) -> dict[str, int]:
    return {c: values.get(c, 0) for c in COLUMNS}


def _fields(method: str) -> dict:
    return {
        "method": method,
        "reviewed_on": TODAY,
        "achievements": "按时完成承诺事项",
        "shortcomings": "联系群众不够",
        "direction": "每月走访一次",
    }


def _signed(by, *, method: str, member=None, org=None, kind: str = "member"):
    review = _draft(by, method=method, member=member, org=org, kind=kind)
    return services.review_sign(by=by, review=review)


def _draft(by, *, method: str, member=None, org=None, kind: str = "member"):
    return services.review_create(
        by=by, subject_kind=kind, period=Q if kind == "member" else H,
        subject_member=member, subject_org=org, **_fields(method),
    )  # fmt: skip


@pytest.fixture
def tree():
    k = make_org("K", OrgKind.COUNTY)
    t = make_org("T", OrgKind.COMMITTEE, k)
    b1, b2, b3 = (make_org(code, OrgKind.BRANCH, t) for code in ("B1", "B2", "B3"))
    orgs = {"K": k, "T": t, "B1": b1, "B2": b2, "B3": b3}
    where = {"ts": t, "s1": b1, "a": b1, "b": b1, "c": b1, "d": b1, "e": b2, "f": b2}
    where |= {"s3": b3, "g": b3}
    members = {
        name: make_member(org, name, birth_date=datetime.date(1960 + i, 1, 1), since=Q.start)
        for i, (name, org) in enumerate(where.items())
    }
    for org, secretary in ((t, "ts"), (b1, "s1"), (b3, "s3")):
        org_services.organization_update(by=None, org=org, secretary=members[secretary])
    users = {
        code: make_user(f"sj_{code.lower()}", Role.SECRETARY, orgs[code])
        for code in ("K", "T", "B1", "B2")
    }
    uk, ut, ub1, ub2 = users["K"], users["T"], users["B1"], users["B2"]

    a = _signed(ub1, method="central", member=members["a"])
    b = _signed(ub1, method="individual", member=members["b"])
    services.review_sign(by=ub1, review=services.review_correct(by=ub1, review=b))
    _draft(ub1, method="individual", member=members["c"])
    services.exemption_grant(
        by=ut, period=Q, subject_kind="member", subject_member=members["d"], reason="长期病休"
    )
    later = TODAY + datetime.timedelta(days=30)
    services.rectification_issue(by=ub1, review=a, requirement="参加集中学习", deadline=later)
    closed = services.rectification_issue(by=ub1, review=a, requirement="补交心得", deadline=later)
    services.rectification_report(by=ub1, rectification=closed, response="已补交")
    services.rectification_close(by=ub1, rectification=closed)
    services.rectification_issue(
        by=ub1, review=a, requirement="走访困难党员", deadline=TODAY - datetime.timedelta(days=1),
        today=TODAY - datetime.timedelta(days=2),
    )  # fmt: skip
    _signed(ub2, method="onsite", member=members["e"])
    _signed(ub2, method="central", member=members["f"])
    _signed(ut, method="onsite", org=b1, kind="org")
    _signed(ut, method="central", org=b3, kind="secretary")
    services.exemption_grant(by=uk, period=H, subject_kind="org", subject_org=b3, reason="合并中")
    _signed(uk, method="individual", org=b2, kind="org")
    _signed(uk, method="random", org=t, kind="org")
    for org in orgs.values():
        org.refresh_from_db()
    return {"orgs": orgs, "members": members, "users": users}


def _ids(tree) -> dict[int, str]:
    return {org.pk: code for code, org in tree["orgs"].items()}


def _by_code(ids: dict[int, str], found: dict[int, dict]) -> dict[str, dict[str, int]]:
    return {ids[pk]: _full(values) for pk, values in found.items()}


HAND = {code: _full(values) for code, values in EXPECTED.items()}

# the organisations and their children, members owed, reviewed and exempted, the half-year's
# exemptions and the parents' reviews, reviews by method, rectification items
COMPUTE_QUERIES = 8


def test_computed_and_kept_figures_equal_the_hand_count(tree, django_assert_num_queries):
    ids = _ids(tree)
    with django_assert_num_queries(COMPUTE_QUERIES):
        computed = review_figures.compute(Q, list(ids))
    assert _by_code(ids, computed) == HAND
    # kept by the services' touches alone
    assert _by_code(ids, figures.own_figures("reviews", Q, list(ids))) == HAND
    assert figures.check([Q], keys={"reviews"}) == []
    # a refresh, once or twice, writes the same rows
    assert figures.refresh("reviews", Q, list(ids)) == len(HAND)
    assert figures.refresh("reviews", Q, list(ids)) == len(HAND)
    assert _by_code(ids, figures.own_figures("reviews", Q, list(ids))) == HAND
    assert ReviewFigure.objects.filter(period=Q.slug).count() == len(HAND)
    # more organisations cost no more queries: five new branches, each owed T's review
    more = {make_org(f"X{i}", OrgKind.BRANCH, tree["orgs"]["T"]).pk: f"X{i}" for i in range(5)}
    with django_assert_num_queries(COMPUTE_QUERIES):
        computed = review_figures.compute(Q, [*ids, *more])
    assert _by_code(ids | more, computed) == HAND | {
        x: _full({"orgs_owed": 1}) for x in more.values()
    }


def test_both_quarters_of_the_half_carry_the_organisation_figures(tree):
    ids = _ids(tree)
    other = next(q for q in Period.all_of(Q.year, QUARTER) if q != Q and H.contains(q.end))
    there = _by_code(ids, review_figures.compute(other, list(ids)))
    for column in ("orgs_owed", "orgs_reviewed", "secretaries_owed", "secretaries_reviewed"):
        assert {code: there.get(code, {}).get(column, 0) for code in HAND} == {
            code: values[column] for code, values in HAND.items()
        }, column


def test_review_figures_are_kept_by_quarter_only(tree):
    b1 = tree["orgs"]["B1"]
    with pytest.raises(ValueError):
        review_figures.compute(Period.whole_year(Q.year), [b1.pk])
    with pytest.raises(ValueError):
        review_figures.names(H, b1, "orgs_owed")
    with pytest.raises(ValueError):
        review_figures.names(Q, b1, "members")


# ---------------------------------------------------------------- names


PAIRS = [
    ("members_owed", "members_reviewed"),
    ("orgs_owed", "orgs_reviewed"),
    ("secretaries_owed", "secretaries_reviewed"),
    ("reviewers_owed", "reviewers_done"),
]


def test_the_names_behind_each_figure_are_as_many_as_it_counts(tree, django_assert_max_num_queries):
    kept = figures.own_figures("reviews", Q, list(_ids(tree)))
    for code, org in tree["orgs"].items():
        values = _full(kept.get(org.pk, {}))
        for column in COLUMNS:
            # at most: the roll, its reviews, exemptions and last quarter's (branch_quarter);
            # the children, their reviews and exemptions (half_year)
            with django_assert_max_num_queries(7):
                found = review_figures.names(Q, org, column)
            assert len(found) == values[column], (code, column)
        for owed, done in PAIRS:
            found = review_figures.names(Q, org, f"{owed}-{done}")
            assert len(found) == values[owed] - values[done], (code, owed)


def test_the_names_say_who_is_behind_a_figure(tree):
    b1, b2, t = (tree["orgs"][code] for code in ("B1", "B2", "T"))

    def listed(org, column, part="label"):
        return [getattr(n, part) for n in review_figures.names(Q, org, column)]

    assert listed(b1, "members_owed-members_reviewed", "detail") == ["草稿未签字"]
    assert listed(b1, "members_owed-members_reviewed") == ["c"]
    assert sorted(listed(b1, "members_reviewed")) == ["a", "b"]
    assert listed(b1, "exempt_members", "detail") == ["免予点评：长期病休"]
    assert listed(b1, "rect_overdue") == ["走访困难党员"]
    assert listed(b1, "rect_closed") == ["补交心得"]
    assert listed(b1, "secretaries_owed") == ["组织B1书记s1"]
    assert listed(b2, "orgs_owed-orgs_reviewed") == ["组织B2"]
    assert listed(b2, "by_individual", "detail")[0].startswith("sj_k")  # K's review of B2
    assert listed(t, "reviewers_owed", "detail") == ["尚缺 2 项"]
    assert listed(t, "by_random") == ["组织T"]
    review = LeaderReview.objects.get(org=b1, subject_kind="org")
    assert listed(b1, "orgs_reviewed", "url") == [reverse("reviews:detail", args=[review.pk])]


# ---------------------------------------------------------------- writes move the figures


def _kept(tree, code: str) -> dict[str, int]:
    org = tree["orgs"][code]
    return _full(figures.own_figures("reviews", Q, [org.pk]).get(org.pk, {}))


def test_a_signed_review_moves_the_subjects_and_the_reviewers_figures(tree):
    uk, ub1 = tree["users"]["K"], tree["users"]["B1"]
    rows = selectors.branch_quarter(branch=tree["orgs"]["B1"], period=Q)
    services.review_sign(by=ub1, review=next(r.review for r in rows if r.is_draft))
    b1 = _kept(tree, "B1")
    assert (b1["members_reviewed"], b1["reviewers_done"], b1["by_individual"]) == (3, 1, 2)
    _signed(uk, method="central", org=tree["orgs"]["T"], kind="secretary")
    assert _kept(tree, "T")["secretaries_reviewed"] == 1  # the subject's row
    assert _kept(tree, "K")["reviewers_done"] == 1  # the reviewer's: T and its secretary met


def test_closing_and_reopening_an_item_moves_the_closed_figure(tree):
    ub1 = tree["users"]["B1"]
    item = ReviewRectification.objects.get(requirement="参加集中学习")
    services.rectification_report(by=ub1, rectification=item, response="已参加")
    assert _kept(tree, "B1")["rect_closed"] == 1  # reported is still open
    services.rectification_close(by=ub1, rectification=item)
    assert _kept(tree, "B1")["rect_closed"] == 2
    services.rectification_close(by=ub1, rectification=item, reopen=True)
    assert _kept(tree, "B1")["rect_closed"] == 1


def test_exempting_an_organisation_moves_its_figures_and_its_parents(tree):
    uk, ut = tree["users"]["K"], tree["users"]["T"]
    _signed(ut, method="onsite", org=tree["orgs"]["B2"], kind="org")
    assert _kept(tree, "T")["reviewers_done"] == 0  # B1's secretary is still owed
    services.exemption_grant(
        by=uk, period=H, subject_kind="secretary", subject_org=tree["orgs"]["B1"], reason="调离"
    )
    b1 = _kept(tree, "B1")
    assert (b1["secretaries_owed"], b1["exempt_orgs"]) == (0, 1)  # the subject's row
    assert _kept(tree, "T")["reviewers_done"] == 1  # the parent's: nothing left to review


# ---------------------------------------------------------------- coverage reads the figures


def test_coverage_is_the_rollup_of_the_kept_figures(tree):
    k, t, b1, b3 = (tree["orgs"][code] for code in ("K", "T", "B1", "B3"))
    for root in (k, t, b1):
        cover = selectors.coverage(root=root, quarter=Q)
        rolled = figures.rollup("reviews", root, Q)
        for column in selectors.COVERAGE_COLUMNS:
            assert getattr(cover["total"], column) == rolled.total[column], (root.code, column)
        for part, (org, values) in zip(cover["children"], rolled.children, strict=True):
            assert part.org == org
            assert all(getattr(part, c) == values[c] for c in selectors.COVERAGE_COLUMNS)
        assert cover["as_of"] == rolled.as_of
    total = selectors.coverage(root=k, quarter=Q, half=H)["total"]
    assert (total.members_owed, total.members_reviewed) == (6, 4)
    assert (total.orgs_owed, total.orgs_reviewed) == (3, 2)  # T, B1, B2; B3 exempt
    assert (total.secretaries_owed, total.secretaries_reviewed) == (3, 1)
    assert (total.reviewers_owed, total.reviewers_done) == (5, 1)
    assert total.gaps == [(t, 2), (b3, 1), (b1, 1), (k, 1)]  # the most first, then the latest
    under_t = selectors.coverage(root=t, quarter=Q)["total"]
    assert [o.code for o, _ in under_t.gaps] == ["T", "B3", "B1"]  # T's own review is K's
    limited = selectors.reviewer_gaps(root=k, quarter=Q, limit=2)
    assert [(o.code, n) for o, n in limited] == [("T", 2), ("B3", 1)]
    with pytest.raises(ValueError):  # the figures pair a quarter with its own half-year only
        selectors.coverage(root=k, quarter=Q, half=H.previous())
