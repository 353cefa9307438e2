import datetime

from django.contrib.auth import get_user_model
from django.utils import timezone

from orgs.accounts import password_is_own, password_set_by
from orgs.models import ThrottleCounter
from orgs.throttle import throttle_hit, throttle_reset, throttle_retry_after


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
