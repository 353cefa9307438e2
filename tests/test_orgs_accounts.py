"""Logins (issue 9, items 4, 5 and 8): every user changes their own password, and must at the first
login when someone else set it; failed logins are limited per account and per address; the
organisation's history is for those who may export it."""

import datetime
import re

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.urls import reverse

from orgs import login_limits, services
from orgs.accounts import password_ever_set_by, password_is_own
from orgs.models import AccountState, Role
from tests.personas import make_user

NEW_PASSWORD = "Lv-shui-qing-shan-2026"


def _fresh(user):
    return get_user_model().objects.get(pk=user.pk)


def _logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def _open_login(client, personas) -> tuple[object, str]:
    """The branch secretary opens a login for 李一 on the roles page; the one-time password."""
    client.force_login(personas.user("own_branch_secretary"))
    response = client.post(
        reverse("orgs:roles", args=[personas.orgs["B1"].pk]),
        {"role": "member", "member": personas.members["m1"].pk, "username": "li1"},
        follow=True,
    )
    password = re.search(r"初始密码：(\S+?)（", response.content.decode()).group(1)
    client.logout()
    return get_user_model().objects.get(username="li1"), password


# ---------------------------------------------------------------- changing one's password


def test_every_user_finds_the_password_page_in_the_header(client, personas):
    client.force_login(personas.user("own_branch_secretary"))
    home = client.get(reverse("home")).content.decode()
    assert f'href="{reverse("password_change")}"' in home
    page = client.get(reverse("password_change")).content.decode()
    assert "修改密码" in page and "旧密码" in page and "新密码" in page
    assert "由他人设置" not in page  # not forced: the account has no AccountState row


def test_the_password_change_holds_djangos_validators_and_keeps_the_session(client, personas):
    own = personas.user("own_branch_secretary")
    client.force_login(own)
    url = reverse("password_change")
    data = {"old_password": "pw-123456", "new_password1": "12345678", "new_password2": "12345678"}
    response = client.post(url, data)
    assert response.status_code == 200 and response.context["form"].errors["new_password2"]
    assert _fresh(own).check_password("pw-123456")
    response = client.post(url, data | {"old_password": "wrong"})
    assert response.context["form"].errors["old_password"]
    data |= {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    response = client.post(url, data, follow=True)
    assert response.redirect_chain[-1][0] == reverse("home")
    assert "密码已修改" in response.content.decode()
    assert _fresh(own).check_password(NEW_PASSWORD) and _logged_in(client)
    assert AccountState.objects.get(user=own).password_changed_at is not None


def test_the_service_changes_only_ones_own_password(personas):
    from django.core.exceptions import ValidationError

    own, parent = personas.user("own_branch_secretary"), personas.user("parent_committee_secretary")
    with pytest.raises(ValidationError, match="只能由本人修改"):
        services.password_change(user=own, password=NEW_PASSWORD, by=parent)
    assert _fresh(own).check_password("pw-123456")


# ---------------------------------------------------------------- the first login


def _static_client(client, settings):
    """A client on the same session whose WhiteNoise serves the source static files, as it
    serves the collected ones in production (before any view or middleware below it)."""
    from django.test import Client

    settings.WHITENOISE_USE_FINDERS = settings.WHITENOISE_AUTOREFRESH = True
    other = Client()
    other.cookies = client.cookies
    return other


def test_a_login_opened_by_the_secretary_must_change_its_password_first(client, personas, settings):
    user, initial = _open_login(client, personas)
    assert not password_is_own(user)
    response = client.post(reverse("login"), {"username": "li1", "password": initial})
    assert response.status_code == 302 and _logged_in(client)
    change = reverse("password_change")
    for url in (
        reverse("home"),
        reverse("orgs:detail", args=[personas.orgs["B1"].pk]),
        reverse("orgs:member_list"),
        reverse("pledges:mine"),
    ):
        response = client.get(url)
        assert (response.status_code, response["Location"]) == (302, change), url
    assert client.post(reverse("orgs:member_list")).status_code == 302
    assert "由他人设置" in client.get(change).content.decode()
    # what needs no login, and static files, stay open
    assert client.get(reverse("healthz")).status_code == 200
    assert client.get(reverse("public:notice", args=["B1"])).status_code == 200
    assert _static_client(client, settings).get("/static/css/site.css").status_code == 200
    data = {"old_password": initial, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    assert client.post(change, data)["Location"] == reverse("home")
    assert password_is_own(_fresh(user))
    assert client.get(reverse("home")).status_code == 200
    assert client.get(reverse("orgs:detail", args=[personas.orgs["B1"].pk])).status_code == 200


def test_a_forced_change_to_the_same_password_is_refused_and_stays_forced(client, personas):
    """Keeping the initial password the secretary knows must not make it count as the owner's."""
    user, initial = _open_login(client, personas)
    client.post(reverse("login"), {"username": "li1", "password": initial})
    change = reverse("password_change")
    same = {"old_password": initial, "new_password1": initial, "new_password2": initial}
    response = client.post(change, same)
    assert response.status_code == 200
    assert response.context["form"].errors["new_password2"] == ["新密码不能与原密码相同。"]
    assert "新密码不能与原密码相同" in response.content.decode()
    user = _fresh(user)
    assert not password_is_own(user) and user.check_password(initial)
    assert user.account_state.password_changed_at is None
    assert client.get(reverse("home"))["Location"] == change  # still forced
    with pytest.raises(ValidationError, match="新密码不能与原密码相同"):
        services.password_change(user=user, password=initial, by=user)
    assert not password_is_own(_fresh(user))
    # a real change, with the same setup, is accepted
    data = {"old_password": initial, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    assert client.post(change, data)["Location"] == reverse("home")
    assert password_is_own(_fresh(user))


def test_who_once_set_a_password_is_remembered_after_the_owner_changes_it(client, personas):
    secretary = personas.user("own_branch_secretary")
    user, initial = _open_login(client, personas)
    assert password_ever_set_by(user=user, by=secretary)
    client.post(reverse("login"), {"username": "li1", "password": initial})
    data = {"old_password": initial, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    client.post(reverse("password_change"), data)
    user = _fresh(user)
    assert password_is_own(user)
    assert password_ever_set_by(user=user, by=secretary)
    assert not password_ever_set_by(user=secretary, by=user)
    assert not password_ever_set_by(user=user, by=user)
    assert user.password_settings.count() == 1  # the owner's own change adds no row


def test_the_setter_chain_follows_who_set_whose_password_within_a_bound(
    personas, django_assert_max_num_queries
):
    from orgs.accounts import SETTER_CHAIN_DEPTH, password_set_by, password_setter_chain

    User = get_user_model()
    people = [User.objects.create_user(f"p{i}") for i in range(SETTER_CHAIN_DEPTH + 2)]
    for setter, account in zip(people, people[1:], strict=False):
        password_set_by(user=account, by=setter)  # p0 set p1's password, p1 set p2's, ...
        password_set_by(user=account, by=account)  # each owner changed it since
    password_set_by(user=people[0], by=people[2])  # a cycle must not loop
    ids = [p.pk for p in people]
    with django_assert_max_num_queries(2):  # one query per setting followed back
        assert password_setter_chain(user=people[2], by=people[0]) == ids[:3]
    assert password_setter_chain(user=people[0], by=people[2]) == [ids[2], ids[0]]
    assert password_setter_chain(user=people[0], by=people[1]) == [ids[1], ids[2], ids[0]]
    assert (
        password_setter_chain(user=people[SETTER_CHAIN_DEPTH], by=people[0])
        == ids[: SETTER_CHAIN_DEPTH + 1]
    )
    # one setting beyond the bound is not followed, and costs no more than the bound
    assert SETTER_CHAIN_DEPTH == 8
    with django_assert_max_num_queries(8):  # one query per setting followed, up to the bound
        assert password_setter_chain(user=people[SETTER_CHAIN_DEPTH + 1], by=people[0]) == []
    assert password_setter_chain(user=people[1], by=people[1]) == []
    assert password_setter_chain(user=people[1], by=personas.user("member_self")) == []


def test_logging_out_stays_open_while_the_password_must_change(client, personas):
    _, initial = _open_login(client, personas)
    client.post(reverse("login"), {"username": "li1", "password": initial})
    response = client.post(reverse("logout"))
    assert response["Location"] == reverse("login") and not _logged_in(client)


def test_accounts_without_a_state_row_are_not_sent_to_change(client, personas):
    client.force_login(personas.user("member_self"))
    assert client.get(reverse("home")).status_code == 200


def test_a_password_a_superuser_sets_in_the_admin_counts_as_someone_elses(client, personas):
    admin = get_user_model().objects.create_superuser("root", password="pw-root-123456")
    client.force_login(admin)
    target = personas.user("member_self")
    url = reverse("admin:auth_user_password_change", args=[target.pk])
    response = client.post(
        url,
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert _fresh(target).check_password(NEW_PASSWORD)
    assert not password_is_own(_fresh(target))
    response = client.post(
        reverse("admin:auth_user_add"),
        {
            "username": "made_in_admin",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
            "usable_password": "true",
        },
    )
    assert response.status_code == 302
    made = get_user_model().objects.get(username="made_in_admin")
    assert not password_is_own(made)
    # both remembered for good: the superuser may hold these logins (never paper tellers together)
    assert password_ever_set_by(user=target, by=admin) and password_ever_set_by(user=made, by=admin)


def test_a_superuser_cannot_grant_themselves_a_role_in_the_admin(client, personas):
    from orgs.services import role_grant_exists

    admin = get_user_model().objects.create_superuser("root", password="pw-root-123456")
    client.force_login(admin)
    org = personas.orgs["P"]
    response = client.post(
        reverse("admin:orgs_organizationuserobjectpermission_add"),
        {"user": admin.pk, "content_object": org.pk, "role": "office"},
    )
    assert response.status_code == 200 and "不能给自己授予角色" in response.content.decode()
    assert not role_grant_exists(user=admin, org=org, role=Role.OFFICE)


# ---------------------------------------------------------------- login throttle


@pytest.fixture
def member_login(db):
    return make_user("li1")  # password pw-123456


def _try(client, password, username="li1", **extra):
    return client.post(
        reverse("login"), {"username": username, "password": password}, **extra
    ).content.decode()


def test_five_failures_block_the_account_even_for_the_right_password(client, member_login):
    for _ in range(5):
        assert "用户名或密码不正确" in _try(client, "wrong")
    page = _try(client, "pw-123456")
    assert "登录失败次数过多，请在 15 分钟后再试" in page and not _logged_in(client)


def test_the_right_password_after_fifty_wrong_ones_does_not_log_in(client, member_login):
    for _ in range(50):
        _try(client, "wrong")
    assert "请在 15 分钟后再试" in _try(client, "pw-123456")
    assert not _logged_in(client)


def test_a_blocked_client_costs_no_password_hash(client, member_login, monkeypatch):
    from django.contrib.auth.backends import ModelBackend

    for _ in range(5):
        _try(client, "wrong")
    calls = []
    real = ModelBackend.authenticate
    monkeypatch.setattr(
        ModelBackend, "authenticate", lambda *a, **k: calls.append(1) or real(*a, **k)
    )
    _try(client, "pw-123456")
    assert calls == []


def test_a_success_resets_the_account_counter(client, member_login):
    for _ in range(4):
        _try(client, "wrong")
    _try(client, "pw-123456")
    assert _logged_in(client)
    client.logout()
    for _ in range(4):
        _try(client, "wrong")
    _try(client, "pw-123456")
    assert _logged_in(client)


def test_the_wait_is_told_in_minutes(client, member_login):
    from django.utils import timezone

    from orgs.models import ThrottleCounter

    for _ in range(5):
        _try(client, "wrong")
    ThrottleCounter.objects.update(window_ends=timezone.now() + datetime.timedelta(seconds=61))
    assert "请在 2 分钟后再试" in _try(client, "pw-123456")


def test_the_admin_login_is_under_the_same_limits(client, db):
    get_user_model().objects.create_superuser("root", password="pw-root-123456")
    url = reverse("admin:login")
    for _ in range(5):
        client.post(url, {"username": "root", "password": "wrong"})
    page = client.post(url, {"username": "root", "password": "pw-root-123456"}).content.decode()
    assert "请在 15 分钟后再试" in page and not _logged_in(client)


def test_failures_from_one_address_block_it_for_every_account(client, member_login, settings):
    settings.CLIENT_IP_HEADER = "HTTP_X_REAL_IP"
    here, there = {"HTTP_X_REAL_IP": "10.0.0.7"}, {"HTTP_X_REAL_IP": "10.0.0.8"}
    for i in range(login_limits.PER_ADDRESS):
        _try(client, "wrong", username=f"guess{i}", **here)
    assert "请在 15 分钟后再试" in _try(client, "pw-123456", **here)
    assert not _logged_in(client)
    _try(client, "pw-123456", **there)  # the account itself is not blocked
    assert _logged_in(client)


# ---------------------------------------------------------------- history


def test_only_those_who_may_export_see_the_organisations_history(client, personas):
    parent = personas.user("parent_committee_secretary")
    services.member_transfer(
        by=parent,
        member=personas.members["m1"],
        to_org=personas.orgs["B2"],
        on=datetime.date.today(),
    )
    url = reverse("orgs:detail", args=[personas.orgs["B1"].pk])
    for persona in ("own_branch_secretary", "parent_committee_secretary", "office_inside"):
        client.force_login(personas.user(persona))
        page = client.get(url).content.decode()
        assert "最近变更" in page and "李一" in page, persona
    client.force_login(personas.user("member_self"))
    page = client.get(url).content.decode()
    assert "最近变更" not in page and "李一" not in page and "授予" not in page


def test_a_member_reads_their_own_records_history(client, personas):
    own = personas.user("own_branch_secretary")
    services.member_update(by=own, member=personas.members["m1b"], post="村民小组长")
    client.force_login(personas.user("member_self"))
    page = client.get(
        reverse("orgs:member_detail", args=[personas.members["m1b"].pk])
    ).content.decode()
    assert "修改党员“李二”的信息" in page
    other = client.get(reverse("orgs:member_detail", args=[personas.members["m1"].pk]))
    assert other.status_code == 404


# ---------------------------------------------------------------- login limits: reservation


def _spy_password_checks(monkeypatch, during=None) -> list[str]:
    """Record every password check (ModelBackend.authenticate); `during(username)` runs inside
    the first one, as a request arriving while that password is being hashed."""
    from django.contrib.auth.backends import ModelBackend

    calls = []
    real = ModelBackend.authenticate

    def spy(self, request, username=None, password=None, **kwargs):
        calls.append(username)
        if during is not None and len(calls) == 1:
            during(username)
        return real(self, request, username=username, password=password, **kwargs)

    monkeypatch.setattr(ModelBackend, "authenticate", spy)
    return calls


def test_attempts_arriving_during_a_check_are_reserved_and_refused_unchecked(
    client, member_login, monkeypatch
):
    from django.test import Client

    pages = []

    def five_more(username):
        other = Client()
        pages.extend(_try(other, "wrong") for _ in range(login_limits.PER_PAIR))

    calls = _spy_password_checks(monkeypatch, during=five_more)
    _try(client, "wrong")
    assert len(calls) == login_limits.PER_PAIR  # the first and four of the five arriving during it
    assert sum("请在 15 分钟后再试" in page for page in pages) == 1


def test_a_stranger_locks_out_their_own_address_not_the_owner(client, member_login, settings):
    settings.CLIENT_IP_HEADER = "HTTP_X_REAL_IP"
    stranger, owner = {"HTTP_X_REAL_IP": "10.0.0.7"}, {"HTTP_X_REAL_IP": "10.0.0.8"}
    for _ in range(50):
        _try(client, "wrong", **stranger)
    assert "请在 15 分钟后再试" in _try(client, "pw-123456", **stranger)
    assert not _logged_in(client)
    _try(client, "pw-123456", **owner)  # refusals at the stranger's pair did not add up
    assert _logged_in(client)


def test_guesses_at_one_account_from_many_addresses_block_it_everywhere(
    client, member_login, settings, monkeypatch
):
    settings.CLIENT_IP_HEADER = "HTTP_X_REAL_IP"
    per_address = login_limits.PER_PAIR - 1
    for i in range(login_limits.PER_ACCOUNT // per_address):
        for _ in range(per_address):
            _try(client, "wrong", HTTP_X_REAL_IP=f"10.0.1.{i}")
    calls = _spy_password_checks(monkeypatch)
    assert "请在 15 分钟后再试" in _try(client, "pw-123456", HTTP_X_REAL_IP="10.0.2.1")
    assert calls == [] and not _logged_in(client)


def test_a_success_takes_back_its_own_hit_on_the_address(client, member_login, settings):
    settings.CLIENT_IP_HEADER = "HTTP_X_REAL_IP"
    here = {"HTTP_X_REAL_IP": "10.0.0.7"}
    for i in range(login_limits.PER_ADDRESS - 1):
        _try(client, "wrong", username=f"guess{i}", **here)
    _try(client, "pw-123456", **here)
    assert _logged_in(client)
    client.logout()
    assert "用户名或密码不正确" in _try(client, "wrong", username="guess-last", **here)
    assert "请在 15 分钟后再试" in _try(client, "wrong", username="guess-after", **here)
