import os

import pytest
from django.conf import settings

from tests.personas import Personas, build_personas


def pytest_sessionstart(session):
    """In CI the suite runs against the real PostgreSQL and Redis, or not at all."""
    if os.environ.get("CI", "").lower() not in {"1", "true", "yes"}:
        return
    problems = []
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        problems.append("CI 必须使用 PostgreSQL：请设置 DATABASE_URL。")
    if not settings.REDIS_URL:
        problems.append("CI 必须使用 Redis：请设置 REDIS_URL。")
    else:
        import redis

        try:
            redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=3).ping()
        except redis.RedisError as exc:
            problems.append(f"无法连接 Redis（{settings.REDIS_URL}）：{exc}")
    if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        import psycopg

        db = settings.DATABASES["default"]
        try:
            psycopg.connect(
                host=db["HOST"],
                port=db["PORT"] or 5432,
                user=db["USER"],
                dbname=db["NAME"],
                password=db["PASSWORD"] or None,
                connect_timeout=3,
            ).close()
        except psycopg.Error as exc:
            problems.append(f"无法连接 PostgreSQL：{exc}")
    if problems:
        pytest.exit("\n".join(problems), returncode=3)


@pytest.fixture
def personas(db) -> Personas:
    return build_personas()


@pytest.fixture
def world(db) -> Personas:
    """The personas with pledge, review and appraisal objects about B1 (tests/*_world.py)."""
    from tests.appraisal_world import build_appraisal_world
    from tests.pledge_world import build_pledge_world
    from tests.review_world import build_review_world

    return build_appraisal_world(build_review_world(build_pledge_world(build_personas())))
