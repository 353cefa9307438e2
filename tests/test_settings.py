import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from config.settings import env_bool

ROOT = Path(__file__).resolve().parent.parent


def test_check_deploy_passes_with_production_settings(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DEBUG", "DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    } | {
        "SECRET_KEY": "x7-" + "k2Jq9vLr8ZpW3nT6yH1bC4dF5gS0aE" * 2,
        "ALLOWED_HOSTS": "dangjian.example.gov.cn",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "STATIC_ROOT": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_language_time_zone_and_deny_by_default():
    assert settings.LANGUAGE_CODE == "zh-hans"
    assert settings.TIME_ZONE == "Asia/Shanghai"
    assert "django.contrib.auth.middleware.LoginRequiredMiddleware" in settings.MIDDLEWARE


def test_tasks_are_eager_exactly_when_there_is_no_redis():
    assert settings.CELERY_TASK_ALWAYS_EAGER == (not settings.REDIS_URL)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1", True),
        ("true", True),
        ("TRUE", True),
        ("Yes", True),
        (" on ", True),
        ("0", False),
        ("false", False),
        ("No", False),
        ("OFF", False),
        ("\tfalse\n", False),
    ],
)
def test_a_boolean_variable_reads_the_usual_words(monkeypatch, value, expected):
    monkeypatch.setenv("CXZY_FLAG", value)
    assert env_bool("CXZY_FLAG", default=not expected) is expected


@pytest.mark.parametrize("value", [None, "", "   "])
@pytest.mark.parametrize("default", [True, False])
def test_an_unset_or_empty_boolean_variable_is_the_default(monkeypatch, value, default):
    if value is None:
        monkeypatch.delenv("CXZY_FLAG", raising=False)
    else:
        monkeypatch.setenv("CXZY_FLAG", value)
    assert env_bool("CXZY_FLAG", default=default) is default


@pytest.mark.parametrize("value", ["maybe", "ture", "2", "y", "n", "enabled", "true false"])
def test_any_other_boolean_value_is_an_error_naming_the_variable_and_the_value(monkeypatch, value):
    monkeypatch.setenv("CXZY_FLAG", value)
    with pytest.raises(ImproperlyConfigured) as refused:
        env_bool("CXZY_FLAG", default=True)
    assert "CXZY_FLAG" in str(refused.value)
    assert repr(value) in str(refused.value)


def test_manage_py_refuses_to_start_with_a_boolean_it_cannot_read():
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "DEBUG"}} | {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "maybe",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "DEBUG" in result.stderr and "'maybe'" in result.stderr
