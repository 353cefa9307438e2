"""Shared fixtures, and the scenes the suite builds once per test database.

A scene is a set of rows that many tests read: the demo province (`demo`), the named personas
(`personas`) and the personas with their pledge, review and appraisal objects (`world`). Each is
built once per test database (once per xdist worker), inside a transaction that stays open while
the tests that use it run; each of those tests runs in a savepoint of it that is rolled back, so
what a test writes never reaches the next one. A test gets its own copy of the scene's Python
objects (unpickled from the state right after the build), so nothing one test caches or changes
on them (a user's `_org_grants`, a refreshed row) reaches another.

Before a test opens its own transaction the database is brought to the scene the test asks for:
layers no longer needed are rolled back, missing ones built. Tests are ordered by scene so that
each is built once per worker; a test that needs an empty database, or commits (transactional
tests, the live server), first rolls every scene back. The scenes are never committed, so their
on-commit callbacks never run, as in the transaction a test used to build them in.
"""

from __future__ import annotations

import contextlib
import pickle
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.conf import settings
from django.db import connection, transaction

from config.settings import env_bool
from orgs import figures
from tests.personas import Personas, build_personas


def pytest_sessionstart(session):
    """In CI the suite runs against the real PostgreSQL and Redis, or not at all."""
    if not env_bool("CI"):
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


@pytest.fixture(autouse=True, scope="session")
def _figures_immediate():
    """The kept figures refresh inside the writing transaction, which a test never commits,
    before the next read of them (tests/test_figures.py checks the on-commit path)."""
    settings.FIGURES_IMMEDIATE = True
    # the tests write records of fixed years (2025, 2026): their figures are kept current
    # whatever today is
    settings.FIGURES_ALSO_KEPT = (2025, 2026)
    yield


@pytest.fixture(autouse=True)
def _touches_roll_back_with_the_test():
    """The touches waiting when a test ends are those of its start: its writes, and the figures
    refreshed for them, rolled back with it."""
    spans = figures.waiting()
    before = set(spans)
    yield
    spans.clear()
    spans.update(before)


def _settled(assertion):
    """A query-count assertion that first refreshes the figures the test's writes left waiting
    (orgs.figures.settle), so it counts the reads it wraps, not that refresh."""

    @contextlib.contextmanager
    def counting(*args, **kwargs):
        figures.settle()
        with assertion(*args, **kwargs) as context:
            yield context

    return counting


@pytest.fixture
def django_assert_num_queries(django_assert_num_queries):
    return _settled(django_assert_num_queries)


@pytest.fixture
def django_assert_max_num_queries(django_assert_max_num_queries):
    return _settled(django_assert_max_num_queries)


# ---------------------------------------------------------------- scenes


def _build_demo(_below: None) -> None:
    from django.core.management import call_command

    call_command("seed_demo", "--scale", "small", verbosity=0)


def _build_personas(_below: None) -> Personas:
    return build_personas()


def _build_world(personas: Personas) -> Personas:
    from tests.appraisal_world import build_appraisal_world
    from tests.pledge_world import build_pledge_world
    from tests.review_world import build_review_world

    return build_appraisal_world(build_review_world(build_pledge_world(personas)))


# layer name → builder, which gets a copy of the objects of the layer below (None at the bottom)
BUILDERS: dict[str, Callable] = {
    "demo": _build_demo,
    "personas": _build_personas,
    "world": _build_world,
}
# the fixture a test names (through `demo`, `personas` or `world`) → the layers it reads, bottom
# first. Private names, so that a module's own fixture called `world` or `demo` (which builds its
# rows inside the test) is not mistaken for the scene.
SCENE_FIXTURES: dict[str, tuple[str, ...]] = {
    "_scene_world": ("personas", "world"),
    "_scene_personas": ("personas",),
    "_scene_demo": ("demo",),
}
SCENE_ORDER = {(): 0, ("demo",): 1, ("personas",): 2, ("personas", "world"): 3}


@dataclass
class _Layer:
    name: str
    atomic: transaction.Atomic
    pickled: bytes  # the builder's objects as they were right after the build


class Scenes:
    """The layers now in the test database of this worker, bottom first."""

    def __init__(self, blocker) -> None:
        self.blocker = blocker
        self.layers: list[_Layer] = []

    def enter(self, path: tuple[str, ...]) -> None:
        """Bring the database to `path`: roll back the layers above the shared bottom, build the
        missing ones."""
        if self.layers and connection.closed_in_transaction:
            self._forget()  # a test closed the connection: the server rolled every layer back
        keep = 0
        while keep < min(len(self.layers), len(path)) and self.layers[keep].name == path[keep]:
            keep += 1
        if keep == len(self.layers) == len(path):
            return
        with self.blocker.unblock():
            while len(self.layers) > keep:
                self._roll_back_top()
            for name in path[keep:]:
                self._build(name)

    def objects(self, name: str):
        """A fresh copy of the objects built with layer `name`."""
        for layer in self.layers:
            if layer.name == name:
                return pickle.loads(layer.pickled)
        raise LookupError(f"scene layer {name!r} is not in the database")

    def has(self, name: str) -> bool:
        return any(layer.name == name for layer in self.layers)

    def leave_all(self) -> None:
        with self.blocker.unblock():
            while self.layers:
                self._roll_back_top()

    def _build(self, name: str) -> None:
        below = self.objects(self.layers[-1].name) if self.layers else None
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            built = BUILDERS[name](below)
            # the scene's figures, kept with its rows (its touches would otherwise roll back
            # with the first test that reads it)
            figures.settle()
            pickled = pickle.dumps(built, protocol=pickle.HIGHEST_PROTOCOL)
        except BaseException:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)
            raise
        self.layers.append(_Layer(name, atomic, pickled))

    def _roll_back_top(self) -> None:
        layer = self.layers.pop()
        transaction.set_rollback(True)
        layer.atomic.__exit__(None, None, None)

    def _forget(self) -> None:
        while self.layers:
            self.layers.pop().atomic.__exit__(None, None, None)


def _is_transactional(item) -> bool:
    """Whether pytest-django runs `item` as a TransactionTestCase (its rows are committed)."""
    marker = item.get_closest_marker("django_db")
    if marker is not None:

        def flags(transaction=False, reset_sequences=False, *_args, **_kwargs):
            return transaction or reset_sequences

        if flags(*marker.args, **marker.kwargs):
            return True
    return bool(
        {"transactional_db", "live_server", "django_db_reset_sequences"} & set(item.fixturenames)
    )


def _scene_path(item) -> tuple[str, ...]:
    if _is_transactional(item):
        return ()  # it commits: no open scene transaction may hold it (it builds its own rows)
    for fixture, path in SCENE_FIXTURES.items():
        if fixture in item.fixturenames:
            return path
    return ()


def pytest_collection_modifyitems(items):
    """Tests grouped by scene (stable within a group): every xdist worker receives its tests in
    this order, so it builds each scene once."""
    items.sort(key=lambda item: SCENE_ORDER[_scene_path(item)])


@pytest.hookimpl(tryfirst=True)
def pytest_fixture_setup(fixturedef, request):
    """Before pytest-django opens a test's transaction (in its `_django_db_helper`), the
    database holds exactly the scene the test reads."""
    if fixturedef.argname == "_django_db_helper":
        request.getfixturevalue("_scenes").enter(_scene_path(request.node))


@pytest.fixture(scope="session")
def _scenes(django_db_setup, django_db_blocker):
    scenes = Scenes(django_db_blocker)
    yield scenes
    scenes.leave_all()


def _scene_objects(scenes: Scenes, name: str):
    """The layer's objects; a transactional test (no scene open) builds its own, committed and
    flushed with the rest of its rows as before."""
    if scenes.has(name):
        return scenes.objects(name)
    path = next(p for p in SCENE_FIXTURES.values() if p[-1] == name)
    built = None
    for layer in path:
        built = BUILDERS[layer](built)
    return built


@pytest.fixture
def _scene_demo(db, _scenes) -> None:
    return _scene_objects(_scenes, "demo")


@pytest.fixture
def _scene_personas(db, _scenes) -> Personas:
    return _scene_objects(_scenes, "personas")


@pytest.fixture
def _scene_world(db, _scenes) -> Personas:
    return _scene_objects(_scenes, "world")


@pytest.fixture
def demo(_scene_demo) -> None:
    """The small demo province (manage.py seed_demo --scale small)."""


@pytest.fixture
def personas(_scene_personas) -> Personas:
    """The named personas of tests/personas.py."""
    return _scene_personas


@pytest.fixture
def world(_scene_world) -> Personas:
    """The personas with pledge, review and appraisal objects about B1 (tests/*_world.py)."""
    return _scene_world
