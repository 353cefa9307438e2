import datetime
import threading
import time

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from orgs import login_limits
from orgs.accounts import password_is_own, password_set_by
from orgs.models import ThrottleCounter
from orgs.throttle import throttle_forgive, throttle_hit, throttle_reset, throttle_retry_after
from tests.personas import make_user


def test_throttle_counts_hits_and_blocks_at_the_limit(db):
    for expected in range(1, 4):
        assert throttle_retry_after("login:a", limit=3) == 0
        assert throttle_hit("login:a", window=600) == expected
    wait = throttle_retry_after("login:a", limit=3)
    assert 590 <= wait <= 600
    assert throttle_retry_after("login:b", limit=3) == 0


def test_throttle_window_ends_and_reset_forgets(db):
    throttle_hit("k", window=600)
    throttle_hit("k", window=600)
    ThrottleCounter.objects.update(window_ends=timezone.now() - datetime.timedelta(seconds=1))
    assert throttle_retry_after("k", limit=2) == 0
    assert throttle_hit("k", window=600) == 1  # a new window
    throttle_reset("k")
    assert ThrottleCounter.objects.count() == 0


def test_throttle_keys_are_not_stored_in_clear(db):
    throttle_hit("login:user:zhibu_shuji", window=60)
    assert "zhibu_shuji" not in ThrottleCounter.objects.get().key


def test_password_set_by_another_person_is_not_own_until_the_owner_sets_it(db):
    User = get_user_model()
    owner = User.objects.create_user("owner", password="x")
    other = User.objects.create_user("other", password="x")
    assert password_is_own(owner)  # no record: the owner's
    password_set_by(user=owner, by=other)
    assert not password_is_own(User.objects.get(pk=owner.pk))
    password_set_by(user=owner, by=owner)
    assert password_is_own(User.objects.get(pk=owner.pk))


def test_forgive_takes_back_one_hit_and_never_goes_below_zero(db):
    for _ in range(3):
        throttle_hit("k", window=600)
    throttle_forgive("k")
    assert throttle_hit("k", window=600) == 3
    for _ in range(5):
        throttle_forgive("k")
    assert ThrottleCounter.objects.get().count == 0
    throttle_forgive("never-hit")
    assert ThrottleCounter.objects.count() == 1


# ---------------------------------------------------------------- concurrency (PostgreSQL)

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL"
)


def _at_once(count: int, work) -> list:
    """Run `work(i)` in `count` threads released together; their results."""
    start = threading.Barrier(count)
    results = [None] * count

    def run(i):
        try:
            start.wait(timeout=10)
            results[i] = work(i)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_simultaneous_hits_each_get_their_own_count():
    counts = _at_once(20, lambda i: throttle_hit("k", window=600))
    assert sorted(counts) == list(range(1, 21))


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_simultaneous_wrong_logins_check_at_most_the_limit(monkeypatch):
    """20 wrong passwords for one account at once, each check slowed so that all the requests are
    in flight together: only the reserved ones reach the password check."""
    make_user("li1")
    checks = []
    real = ModelBackend.authenticate

    def slow_check(self, *args, **kwargs):
        checks.append(1)
        time.sleep(0.3)  # widens the gap a limit read before counting would leave open
        return real(self, *args, **kwargs)

    monkeypatch.setattr(ModelBackend, "authenticate", slow_check)
    pages = _at_once(
        20,
        lambda i: (
            Client()
            .post(reverse("login"), {"username": "li1", "password": "wrong"})
            .content.decode()
        ),
    )
    assert len(checks) == login_limits.PER_PAIR
    assert sum("用户名或密码不正确" in page for page in pages) == login_limits.PER_PAIR
    assert sum("请在 15 分钟后再试" in page for page in pages) == 20 - login_limits.PER_PAIR
