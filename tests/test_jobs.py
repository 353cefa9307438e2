"""Background jobs: the runner's states, progress and failures; the job pages and who may open
them; the roster export and import and the appraisal slips moved onto jobs."""

import datetime
import io
import os
import re
import shutil
import threading
import time
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import InMemoryStorage, default_storage
from django.db import connection, connections, transaction
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from config.settings import env_bool
from orgs import jobs, roster, roster_jobs, services
from orgs.models import Job, JobState, Member, Organization, Role
from orgs.refusals import refuse
from reviews.appraisal import jobs as appraisal_jobs
from reviews.appraisal.models import Slip
from tests.appraisal_world import open_appraisal
from tests.personas import build_personas, make_member
from tests.test_roster import member_row, workbook

pytestmark = pytest.mark.django_db

# ---------------------------------------------------------------- kinds made for these tests

SEEN: dict = {}


def _echo(job, progress):
    progress(3, 10)
    SEEN["row"] = Job.objects.values_list("done", "total").get(pk=job.pk)
    return "结果-文件.txt", job.params["text"].encode()


def _in_transaction(job, progress):
    with transaction.atomic():
        progress(4, 8)
        SEEN["live"] = jobs.job_status(Job.objects.get(pk=job.pk), live=True)
        SEEN["row"] = Job.objects.values_list("done", "total").get(pk=job.pk)
    return None


def _refusing(job, progress):
    refuse("“花名册”第3行：出生年月不是日期。")


def _crashing(job, progress):
    raise RuntimeError("the disk at /srv/secret is full")


for _kind in (
    jobs.JobKind("test_echo", "测试", _echo),
    jobs.JobKind("test_in_transaction", "测试", _in_transaction),
    jobs.JobKind("test_refusing", "测试", _refusing),
    jobs.JobKind("test_crashing", "测试", _crashing),
):
    jobs.register_job(_kind)


@pytest.fixture(autouse=True)
def storage(monkeypatch):
    """An empty file storage for each test: the uploads and results counted here are the
    test's own, not files another test left behind."""
    monkeypatch.setattr(default_storage, "_wrapped", InMemoryStorage())


@pytest.fixture
def eager():
    """Celery as in the embedded default (no Redis): a queued task runs at once, in-process."""
    from config.celery import app

    before = (app.conf.task_always_eager, app.conf.task_eager_propagates)
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = before


@pytest.fixture
def own(personas):
    return personas.user("own_branch_secretary")


def queued(user, kind="test_echo", **params) -> Job:
    """A job recorded as a view records it; the on-commit queueing is left out."""
    return jobs.start_job(user=user, kind=kind, title="测试任务", params=params)


# ---------------------------------------------------------------- the runner


def test_a_job_goes_from_queued_to_done_and_a_second_run_is_skipped(own, settings):
    job = queued(own, text="你好")
    assert job.state == JobState.QUEUED
    assert jobs.run(job.pk) == "done"
    job.refresh_from_db()
    assert job.state == JobState.DONE and job.percent == 100
    assert job.result.read() == "你好".encode() and job.result_name == "结果-文件.txt"
    assert job.done == job.total == 10
    hours = settings.JOB_RESULT_HOURS
    assert job.expires_at == job.finished_at + datetime.timedelta(hours=hours)
    finished = job.finished_at
    assert jobs.run(job.pk) == "skipped"  # a message delivered twice
    job.refresh_from_db()
    assert job.finished_at == finished


def test_a_running_job_left_by_a_killed_worker_runs_again(own):
    job = queued(own, text="再来")
    Job.objects.filter(pk=job.pk).update(state=JobState.RUNNING, done=5, total=10)
    assert jobs.run(job.pk) == "done"  # the redelivered message
    job.refresh_from_db()
    assert job.state == JobState.DONE and job.result.read() == "再来".encode()


def test_progress_is_written_to_the_row_while_running(own):
    job = queued(own, text="x")
    jobs.run(job.pk)
    assert SEEN["row"] == (3, 10)


def test_progress_inside_the_jobs_transaction_is_read_from_the_cache(own):
    job = queued(own, kind="test_in_transaction")
    jobs.run(job.pk)
    # the row, written in the job's transaction, would not be seen by the polling page
    assert SEEN["row"] == (0, 0)
    live = SEEN["live"]
    assert (live.done, live.total, live.percent) == (4, 8, 50)
    assert cache.get(jobs._progress_key(job.pk)) is None  # gone once the job ended


def test_a_refusal_fails_the_job_with_its_message(own, client):
    job = queued(own, kind="test_refusing")
    assert jobs.run(job.pk) == "failed"
    job.refresh_from_db()
    assert job.state == JobState.FAILED and job.error == "“花名册”第3行：出生年月不是日期。"
    client.force_login(own)
    page = client.get(reverse("jobs:detail", args=[job.pk])).content.decode()
    assert "出生年月不是日期" in page and "失败" in page
    assert "data-status-url" not in page  # nothing left to poll


def test_an_unexpected_error_fails_the_job_with_a_general_message(own, client, caplog):
    job = queued(own, kind="test_crashing")
    assert jobs.run(job.pk) == "failed"
    job.refresh_from_db()
    assert job.error == jobs.GENERIC_ERROR and "secret" not in job.error
    assert any("test_crashing" in r.getMessage() for r in caplog.records)  # the details: the log
    client.force_login(own)
    page = client.get(reverse("jobs:detail", args=[job.pk])).content.decode()
    assert jobs.GENERIC_ERROR in page and "/srv/secret" not in page


def test_a_job_of_a_deactivated_user_does_not_run(own):
    job = queued(own, text="x")
    type(own).objects.filter(pk=own.pk).update(is_active=False)
    assert jobs.run(job.pk) == "failed"
    job.refresh_from_db()
    assert "已停用" in job.error and not job.result


@pytest.mark.parametrize("breaks", ["storage", "row"])
def test_an_error_recording_the_outcome_fails_the_job_and_keeps_no_file(
    own, monkeypatch, caplog, breaks
):
    """The work is done; then saving its file (a full disk) or the final save of the row (the
    database gone) fails: the job ends failed with the general message, not running for ever,
    and no file is left half-kept."""
    job = queued(own, text="x")
    saved = []
    save = default_storage.save

    def storage_save(name, content, max_length=None):
        if breaks == "storage":
            raise OSError("No space left on device: /srv/secret")
        saved.append(save(name, content, max_length=max_length))
        return saved[-1]

    def row_save(self, *args, **kwargs):
        raise RuntimeError("the database at /srv/secret went away")

    monkeypatch.setattr(default_storage, "save", storage_save)
    if breaks == "row":
        monkeypatch.setattr(Job, "save", row_save)
    assert jobs.run(job.pk) == "failed"
    job.refresh_from_db()
    assert job.state == JobState.FAILED and job.error == jobs.GENERIC_ERROR
    assert not job.result and not job.result_name and job.finished_at is not None
    assert len(saved) == (1 if breaks == "row" else 0)
    assert not any(default_storage.exists(name) for name in saved)
    assert any("recording its outcome" in r.getMessage() for r in caplog.records)
    assert jobs.run(job.pk) == "skipped"  # failed is final


def test_a_result_is_stored_under_a_name_of_its_own_and_downloaded_under_the_given_one(
    personas, client
):
    """An organisation's name is the export's file name: stored under it, a name with a path in
    it was refused by the storage after the work was done."""
    office = personas.user("office_inside")
    Organization.objects.filter(pk=personas.orgs["K1"].pk).update(name="../..\\县委/x")
    job = roster_jobs.roster_export_start(by=office, org=Organization.objects.get(code="K1"))
    assert jobs.run(job.pk) == "done"
    job.refresh_from_db()
    assert re.fullmatch(rf"jobs/\d{{4}}/\d{{2}}/{job.pk}-[0-9a-f]{{16}}\.xlsx", job.result.name)
    assert job.result_name.startswith("_.._县委_x-花名册-") and job.result_name.endswith(".xlsx")
    client.force_login(office)
    response = client.get(reverse("jobs:download", args=[job.pk]))
    assert response.status_code == 200 and b"".join(response.streaming_content)[:2] == b"PK"


def test_many_refusal_messages_are_kept_one_a_line_within_the_field(own):
    job = queued(own, text="x")
    lines = [f"第{i}行：不对。" for i in range(2000)]
    Job.objects.filter(pk=job.pk).update(state=JobState.RUNNING)
    jobs._fail(job, jobs._error_text(lines))
    job.refresh_from_db()
    assert len(job.error) <= jobs.ERROR_CHARS
    assert job.error.splitlines()[:2] == lines[:2]


def test_an_upload_is_found_by_its_token_only(own):
    job = queued(own, text="x")
    for forged in ("../../etc/passwd", "private/job-uploads/x", 7):
        Job.objects.filter(pk=job.pk).update(params={"upload": forged})
        job.refresh_from_db()
        with pytest.raises(ValidationError, match="已不存在"):
            jobs.open_upload(job)


# ---------------------------------------------------------------- the pages


def test_the_job_page_and_status_show_progress(own, client):
    job = queued(own, text="x")
    client.force_login(own)
    page = client.get(reverse("jobs:detail", args=[job.pk])).content.decode()
    status_url = reverse("jobs:status", args=[job.pk])
    assert f'data-status-url="{status_url}"' in page and "js/job.js" in page
    assert "排队中" in page and 'http-equiv="refresh"' in page  # inside <noscript>
    Job.objects.filter(pk=job.pk).update(
        state=JobState.RUNNING, started_at=timezone.now(), done=30, total=120
    )
    status = client.get(status_url).json()
    assert status["percent"] == 25 and not status["finished"] and status["label"] == "进行中"
    assert "30 / 120" in status["text"]
    jobs.run(job.pk)
    status = client.get(status_url).json()
    assert status["finished"] and status["percent"] == 100 and not status["failed"]
    page = client.get(reverse("jobs:detail", args=[job.pk])).content.decode()
    assert reverse("jobs:download", args=[job.pk]) in page and "data-status-url" not in page


def test_another_users_job_is_not_found(own, personas, client):
    job = queued(own, text="x")
    jobs.run(job.pk)
    routes = ("jobs:detail", "jobs:status", "jobs:download")
    client.force_login(own)
    assert [client.get(reverse(r, args=[job.pk])).status_code for r in routes] == [200] * 3
    # the deputy of the same branch and the secretary above it see it no more than a stranger
    for name in ("own_branch_deputy", "parent_committee_secretary", "sibling_branch_secretary"):
        client.force_login(personas.user(name))
        assert [client.get(reverse(r, args=[job.pk])).status_code for r in routes] == [404] * 3
        page = client.get(reverse("jobs:list")).content.decode()
        assert "测试任务" not in page


def test_the_download_names_the_file_in_chinese(own, client):
    job = queued(own, text="内容")
    jobs.run(job.pk)
    client.force_login(own)
    response = client.get(reverse("jobs:download", args=[job.pk]))
    assert response.status_code == 200 and b"".join(response.streaming_content) == "内容".encode()
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=utf-8''%E7%BB%93%E6%9E%9C-%E6%96%87%E4%BB%B6.txt" in disposition
    assert "no-store" in response["Cache-Control"]


def test_after_expiry_the_download_says_so_and_the_file_is_deleted(own, client):
    job = queued(own, text="旧")
    jobs.run(job.pk)
    job.refresh_from_db()
    name = job.result.name
    client.force_login(own)
    url = reverse("jobs:download", args=[job.pk])
    assert client.get(url).status_code == 200
    past = timezone.now() - datetime.timedelta(minutes=1)
    Job.objects.filter(pk=job.pk).update(expires_at=past)
    assert jobs.expire_jobs() == 1
    assert not default_storage.exists(name)
    job.refresh_from_db()
    assert not job.result and job.result_name  # the row stays, as history
    response = client.get(url)
    assert response.status_code == 410 and "文件已过期" in response.content.decode()
    page = client.get(reverse("jobs:detail", args=[job.pk])).content.decode()
    assert "文件已过期" in page and url not in page
    assert jobs.expire_jobs() == 0


def test_a_file_kept_by_a_job_that_never_finished_expires_in_its_time(own, personas, monkeypatch):
    """The worker dies after the batch of slips and its file were committed (keep_result),
    before the job is marked done: the file of voting codes still goes after its two hours."""
    _fake_pdf(monkeypatch)
    appraisal = open_appraisal(personas)
    job = appraisal_jobs.slips_print_start(
        by=own, appraisal=appraisal, group="member", count=60, url="http://testserver/py/x/"
    )

    def killed(job_id):
        raise SystemExit("worker killed")

    monkeypatch.setattr(jobs, "_discard_upload", killed)  # the first step after the work
    before = timezone.now()
    with pytest.raises(SystemExit):
        jobs.run(job.pk)
    job.refresh_from_db()
    assert job.state == JobState.RUNNING and default_storage.exists(job.result.name)
    hours = datetime.timedelta(hours=appraisal_jobs.SLIPS_FILE_HOURS)
    assert before + hours <= job.expires_at <= timezone.now() + hours
    assert jobs.expire_jobs(now=job.expires_at - datetime.timedelta(minutes=1)) == 0
    assert default_storage.exists(job.result.name)
    assert jobs.expire_jobs(now=job.expires_at + datetime.timedelta(minutes=1)) == 1
    assert not default_storage.exists(job.result.name)


@pytest.mark.parametrize("state", [JobState.RUNNING, JobState.QUEUED, JobState.FAILED])
def test_an_unfinished_jobs_file_without_a_time_goes_after_its_kinds_keep_time(own, state):
    """A file left without `expires_at` by a job that never finished (kept before the time was
    set with it): gone once the kind's keep time has passed since the job started."""
    slips = Job.objects.create(user=own, kind=appraisal_jobs.SLIPS, title="印制", state=state)
    echo = Job.objects.create(user=own, kind="test_echo", title="测试", state=state)
    started = timezone.now()
    for job in (slips, echo):
        job.result.save(f"{job.pk}.pdf", ContentFile(b"%PDF"), save=False)
        Job.objects.filter(pk=job.pk).update(result=job.result.name, started_at=started)
    later = started + datetime.timedelta(hours=appraisal_jobs.SLIPS_FILE_HOURS, minutes=1)
    assert jobs.expire_jobs(now=later - datetime.timedelta(minutes=2)) == 0
    assert jobs.expire_jobs(now=later) == 1  # the slips' two hours, not the default three days
    assert not default_storage.exists(slips.result.name)
    assert default_storage.exists(echo.result.name)
    slips.refresh_from_db()
    assert not slips.result


def test_an_expired_file_is_refused_and_deleted_before_the_nightly_sweep(own, client):
    job = queued(own, text="旧")
    jobs.run(job.pk)
    job.refresh_from_db()
    name = job.result.name
    Job.objects.filter(pk=job.pk).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    client.force_login(own)
    response = client.get(reverse("jobs:download", args=[job.pk]))
    assert response.status_code == 410 and "文件已过期" in response.content.decode()
    assert not default_storage.exists(name)


def test_an_export_is_not_served_once_the_right_to_export_is_withdrawn(personas, client):
    """The file is the owner's, and only while they may still export the organisation: a clerk
    moved away keeps no copy of the county's roster (names, birth dates) for its three days."""
    clerk = personas.user("office_inside")
    job = roster_jobs.roster_export_start(by=clerk, org=personas.orgs["K1"])
    assert jobs.run(job.pk) == "done"
    client.force_login(clerk)
    download = reverse("jobs:download", args=[job.pk])
    detail = reverse("jobs:detail", args=[job.pk])
    assert client.get(download).status_code == 200
    assert download in client.get(detail).content.decode()
    services.role_revoke(by=None, user=clerk, org=personas.orgs["K1"], role=Role.OFFICE)
    response = client.get(download)
    assert response.status_code == 403 and "不能下载" in response.content.decode()
    assert "streaming_content" not in vars(response)
    page = client.get(detail).content.decode()
    assert "您已没有下载此文件的权限" in page and download not in page


def test_a_job_without_a_file_has_nothing_to_download(own, client):
    job = queued(own, text="x")
    client.force_login(own)
    assert client.get(reverse("jobs:download", args=[job.pk])).status_code == 404


def test_the_jobs_list_costs_the_same_queries_however_many_jobs(
    own, client, django_assert_num_queries
):
    client.force_login(own)
    url = reverse("jobs:list")
    for _ in range(3):
        jobs.run(queued(own, text="x").pk)
    # session, user (with the unread notices), the jobs' count, the page of jobs
    with django_assert_num_queries(4):
        response = client.get(url)
    assert len(response.context["rows"]) == 3
    for i in range(40):
        job = queued(own, kind="test_refusing" if i % 2 else "test_echo", text="x")
        jobs.run(job.pk)
    with django_assert_num_queries(4):
        response = client.get(url)
    assert len(response.context["rows"]) == 20 and response.context["page"].paginator.count == 43
    page = response.content.decode()
    assert "下载" in page and "出生年月不是日期" in page


# ---------------------------------------------------------------- the roster on jobs


def _rows(data: bytes) -> dict:
    wb = load_workbook(io.BytesIO(data), read_only=True)
    return {ws.title: [list(r) for r in ws.iter_rows(values_only=True)] for ws in wb.worksheets}


@pytest.mark.django_db(transaction=True)
def test_a_county_roster_is_exported_by_a_job_with_the_same_rows(personas, client, eager):
    """As in the embedded default: committed, the job runs in the request that queued it, and the
    page it redirects to shows it done."""
    county = personas.user("county_secretary")
    k1 = personas.orgs["K1"]
    client.force_login(county)
    page = client.get(reverse("orgs:roster_export", args=[k1.pk]))
    assert page.status_code == 200 and "开始导出" in page.content.decode()
    assert not Job.objects.exists()  # opening the page starts nothing
    response = client.post(reverse("jobs:roster_export", args=[k1.pk]))
    job = Job.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("jobs:detail", args=[job.pk])
    assert job.state == JobState.DONE and job.kind == "roster_export"
    page = client.get(response["Location"]).content.decode()
    assert "已完成" in page and "下载 组织K1-花名册-" in page
    download = client.get(reverse("jobs:download", args=[job.pk]))
    direct = io.BytesIO()
    roster.write_export(root=k1, stream=direct)
    assert _rows(b"".join(download.streaming_content)) == _rows(direct.getvalue())
    assert len(_rows(direct.getvalue())["党员"]) == 1 + 3  # header, B1's two and B2's one


def test_a_branch_over_the_member_threshold_is_exported_by_a_job(
    personas, own, client, monkeypatch
):
    b1 = personas.orgs["B1"]
    client.force_login(own)
    url = reverse("orgs:roster_export", args=[b1.pk])
    direct = client.get(url)
    assert direct["Content-Type"].startswith("application/vnd.openxmlformats")
    monkeypatch.setattr(roster_jobs, "ROSTER_JOB_MEMBERS", 1)  # B1 has two members
    assert "开始导出" in client.get(url).content.decode()


def test_the_export_job_checks_the_right_again_when_it_runs(personas, own):
    job = roster_jobs.roster_export_start(by=own, org=personas.orgs["B1"])
    services.role_revoke(by=None, user=own, org=personas.orgs["B1"], role=Role.SECRETARY)
    assert jobs.run(job.pk) == "failed"
    job.refresh_from_db()
    assert "已没有导出" in job.error and not job.result


def _upload(stream, name="county.xlsx"):
    data = io.BytesIO(stream.getvalue())
    data.name = name
    return data


def test_a_county_import_runs_as_a_job_all_or_nothing(
    personas, client, django_capture_on_commit_callbacks, eager
):
    county = personas.user("county_secretary")
    k1 = personas.orgs["K1"]
    client.force_login(county)
    url = reverse("orgs:roster_import", args=[k1.pk])
    assert "后台导入" in client.get(url).content.decode()
    good = member_row("钱六", "B1", 出生年月="1975-02")
    bad = member_row("孙八", "B2", 出生年月="1972-13")
    before = Member.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"file": _upload(workbook(members=[good, bad]))})
    job = Job.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "jobs:detail", args=[job.pk]
    )
    job.refresh_from_db()
    assert job.state == JobState.FAILED and job.kind == "roster_import"
    assert Member.objects.count() == before  # the good row is not written either
    lines = job.error.splitlines()
    assert lines[0] == "导入未执行：发现 1 处错误，请修改后重新上传。", lines
    assert lines[1].startswith("“党员”表第3行【出生年月】")
    page = client.get(response["Location"]).content.decode()
    assert "第3行【出生年月】" in page
    assert not default_storage.listdir(jobs.UPLOAD_PREFIX)[1]  # the upload is gone
    assert "upload" not in job.params
    # the same file put right is imported, and the page says what changed
    fixed = member_row("孙八", "B2", 出生年月="1972-12")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"file": _upload(workbook(members=[good, fixed]))})
    job = Job.objects.latest("pk")
    assert job.state == JobState.DONE and Member.objects.count() == before + 2
    page = client.get(response["Location"]).content.decode()
    assert "导入完成。" in page and "新增党员 2 名" in page and "返回组织K1" in page
    assert not default_storage.listdir(jobs.UPLOAD_PREFIX)[1]


def test_the_import_job_checks_the_right_again_when_it_runs(personas, client):
    county = personas.user("county_secretary")
    k1 = personas.orgs["K1"]
    client.force_login(county)
    before = Member.objects.count()
    client.post(
        reverse("orgs:roster_import", args=[k1.pk]),
        {"file": _upload(workbook(members=[member_row("钱六", "B1")]))},
    )
    job = Job.objects.get()  # queued; its message is not delivered yet
    assert len(default_storage.listdir(jobs.UPLOAD_PREFIX)[1]) == 1
    services.role_revoke(by=None, user=county, org=k1, role=Role.SECRETARY)
    assert jobs.run(job.pk) == "failed"
    job.refresh_from_db()
    assert "已没有导入" in job.error and Member.objects.count() == before
    assert not default_storage.listdir(jobs.UPLOAD_PREFIX)[1]


def test_a_second_import_into_the_same_organisation_waits_for_the_first(personas, settings):
    """Two tabs, or a double click: the second import of a county is refused while the first is
    queued or running (keeping no upload); once it ended, or if it was lost, another may start."""
    county = personas.user("county_secretary")
    k1, b1 = personas.orgs["K1"], personas.orgs["B1"]

    def start(org=k1, user=county):
        upload = _upload(workbook(members=[member_row("钱六", "B1")]))
        return roster_jobs.roster_import_start(by=user, org=org, upload=upload)

    first = start()
    with pytest.raises(ValidationError) as refused:
        start()
    assert refused.value.messages == [roster_jobs.IMPORT_BUSY]
    assert Job.objects.count() == 1 and len(default_storage.listdir(jobs.UPLOAD_PREFIX)[1]) == 1
    Job.objects.filter(pk=first.pk).update(state=JobState.RUNNING)
    with pytest.raises(ValidationError):
        start()
    other = start(org=b1, user=personas.user("own_branch_secretary"))  # another organisation
    assert jobs.run(first.pk) == "done"
    second = start()
    assert Job.objects.count() == 3 and second.state == JobState.QUEUED
    # a job queued and never run (its message lost) keeps nobody waiting for ever
    stuck = timezone.now() - datetime.timedelta(hours=jobs.STUCK_HOURS, minutes=1)
    Job.objects.filter(pk__in=[second.pk, other.pk]).update(created_at=stuck)
    start()


def test_a_small_branch_import_stays_in_the_request(personas, own, client):
    client.force_login(own)
    url = reverse("orgs:roster_import", args=[personas.orgs["B1"].pk])
    response = client.post(url, {"file": _upload(workbook(members=[member_row("钱六", "B1")]))})
    assert response.status_code == 302 and response["Location"] == reverse(
        "orgs:detail", args=[personas.orgs["B1"].pk]
    )
    assert not Job.objects.exists() and Member.objects.filter(name="钱六").exists()


def test_an_upload_left_by_a_job_that_never_ran_is_deleted_by_the_sweep(personas, own, settings):
    job = roster_jobs.roster_import_start(
        by=own, org=personas.orgs["B1"], upload=_upload(workbook())
    )
    assert len(default_storage.listdir(jobs.UPLOAD_PREFIX)[1]) == 1
    jobs.expire_jobs()
    assert len(default_storage.listdir(jobs.UPLOAD_PREFIX)[1]) == 1  # still queued: kept
    later = timezone.now() + datetime.timedelta(hours=settings.JOB_RESULT_HOURS + 1)
    jobs.expire_jobs(now=later)
    assert not default_storage.listdir(jobs.UPLOAD_PREFIX)[1]
    job.refresh_from_db()
    assert "upload" not in job.params


# ---------------------------------------------------------------- imports at the same time

needs_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="two transactions at once need PostgreSQL"
)


def _race(monkeypatch, first, second) -> bool:
    """Run `first` until it is about to create its first member, inside its import's
    transaction; then run `second`, and let `first` go on once `second` either waits for a lock
    or starts creating members too. Whether `second` waited."""
    holding, second_creates = threading.Event(), threading.Event()
    waited = []
    create = services.member_create

    def someone_waits_for_a_lock() -> bool:
        with connection.cursor() as cursor:  # first's own connection, in its transaction
            cursor.execute("SELECT pg_stat_clear_snapshot()")  # else read once a transaction
            cursor.execute(
                "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid() AND wait_event_type = 'Lock')"
            )
            return cursor.fetchone()[0]

    def member_create(**kwargs):
        name = threading.current_thread().name
        if name == "first" and not holding.is_set():
            holding.set()
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not second_creates.is_set():
                if someone_waits_for_a_lock():
                    waited.append(True)
                    break
                time.sleep(0.02)
        elif name == "second":
            second_creates.set()
        return create(**kwargs)

    def work(fn):
        try:
            fn()
        finally:
            connections.close_all()

    monkeypatch.setattr(services, "member_create", member_create)
    one = threading.Thread(target=work, args=(first,), name="first")
    one.start()
    assert holding.wait(20), "the first import created no member"
    two = threading.Thread(target=work, args=(second,), name="second")
    two.start()
    one.join(30)
    two.join(30)
    return bool(waited)


@needs_postgresql
def test_the_same_import_run_by_two_workers_at_once_creates_its_members_once(
    transactional_db, monkeypatch
):
    """Two jobs for one county (one taken as lost by the guard, then delivered after all): the
    second waits for the first's transaction, then finds its members and changes nothing."""
    monkeypatch.setattr(jobs, "_enqueue", lambda job_id: None)  # two workers, played below
    p = build_personas()
    county, k1 = p.user("county_secretary"), p.orgs["K1"]
    data = workbook(members=[member_row("钱六", "B1"), member_row("孙八", "B2")]).getvalue()

    def start():
        upload = _upload(io.BytesIO(data))
        return roster_jobs.roster_import_start(by=county, org=k1, upload=upload)

    one = start()
    stuck = timezone.now() - datetime.timedelta(hours=jobs.STUCK_HOURS, minutes=1)
    Job.objects.filter(pk=one.pk).update(created_at=stuck)
    two = start()
    outcomes = {}
    waited = _race(
        monkeypatch,
        lambda: outcomes.update(one=jobs.run(one.pk)),
        lambda: outcomes.update(two=jobs.run(two.pk)),
    )
    assert waited and outcomes == {"one": "done", "two": "done"}
    assert Member.objects.filter(name__in=["钱六", "孙八"]).count() == 2
    assert "新增党员 2 名" in Job.objects.get(pk=one.pk).message
    assert "没有变化" in Job.objects.get(pk=two.pk).message


@needs_postgresql
@pytest.mark.parametrize(
    ("second_root", "waits"), [("B1", True), ("T2", False)], ids=["inside", "elsewhere"]
)
def test_an_import_waits_for_one_of_a_subtree_around_it_only(
    transactional_db, monkeypatch, second_root, waits
):
    """An import of B1 while K1's runs waits for it (and then finds its members); one of T2, in
    another county, runs beside it."""
    p = build_personas()
    k1_rows = [member_row("钱六", "B1")]
    second_rows = [member_row("钱六", "B1")] if waits else [member_row("李七", "B3")]
    results = {}

    def importing(root, rows):
        stream = workbook(members=rows)
        return lambda: results.update(
            {root: roster.import_roster(stream, by=None, root=p.orgs[root])}
        )

    waited = _race(monkeypatch, importing("K1", k1_rows), importing(second_root, second_rows))
    assert waited == waits
    assert results["K1"].members_created == 1
    assert results[second_root].members_created == (0 if waits else 1)
    assert Member.objects.filter(name="钱六").count() == 1


# ---------------------------------------------------------------- appraisal slips on jobs


def _fake_pdf(monkeypatch):
    def fake(appraisal, group, issued, *, url, progress=None):
        return b"%PDF-1.7 " + ",".join(str(serial) for serial, _ in issued).encode()

    monkeypatch.setattr(appraisal_jobs, "slips_pdf", fake)


def test_fifty_slips_are_printed_in_the_request(personas, own, client, monkeypatch):
    _fake_pdf(monkeypatch)
    appraisal = open_appraisal(personas)
    client.force_login(own)
    response = client.post(
        reverse("appraisal:slips", args=[appraisal.pk]), {"group": "member", "count": "50"}
    )
    assert response["Content-Type"] == "application/pdf"
    assert Slip.objects.filter(appraisal=appraisal).count() == 50 and not Job.objects.exists()


def test_more_than_fifty_slips_are_printed_by_a_job_served_to_the_asker_only(
    personas, own, client, django_capture_on_commit_callbacks, eager, monkeypatch
):
    _fake_pdf(monkeypatch)  # the real one is the page's own (test_appraisal_views)
    appraisal = open_appraisal(personas)
    client.force_login(own)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("appraisal:slips", args=[appraisal.pk]), {"group": "member", "count": "51"}
        )
    job = Job.objects.get()
    assert response["Location"] == reverse("jobs:detail", args=[job.pk])
    job.refresh_from_db()
    assert job.state == JobState.DONE and job.kind == "appraisal_slips"
    assert Slip.objects.filter(appraisal=appraisal).count() == 51
    # nothing but the PDF holds a code: not the parameters, the messages or the title
    assert set(job.params) == {"appraisal_id", "group", "count", "url"}
    assert "编号 0001–0051" in job.message
    code = re.compile(r"\d{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}")
    for text in (job.title, job.message, job.error, str(job.params), job.result.name):
        assert not code.search(text)
    # the file's time counts from when it was kept, with the batch, not from the job's end
    kept_at = job.expires_at - datetime.timedelta(hours=appraisal_jobs.SLIPS_FILE_HOURS)
    assert job.started_at <= kept_at <= job.finished_at
    download = client.get(reverse("jobs:download", args=[job.pk]))
    serials = ",".join(str(n) for n in range(1, 52)).encode()
    assert b"".join(download.streaming_content) == b"%PDF-1.7 " + serials
    assert "no-store" in download["Cache-Control"]
    page = client.get(response["Location"]).content.decode()
    assert "返回选票码页面" in page
    client.force_login(personas.user("own_branch_deputy"))  # may print slips, not fetch these
    assert client.get(reverse("jobs:download", args=[job.pk])).status_code == 404


def test_a_slips_job_run_again_prints_no_second_batch(personas, own, monkeypatch):
    _fake_pdf(monkeypatch)
    appraisal = open_appraisal(personas)
    job = appraisal_jobs.slips_print_start(
        by=own, appraisal=appraisal, group="member", count=60, url="http://testserver/py/x/"
    )
    assert jobs.run(job.pk) == "done"
    job.refresh_from_db()
    first = job.result.read()
    # the worker died after the batch and its file were committed, before the job was marked
    Job.objects.filter(pk=job.pk).update(state=JobState.RUNNING)
    assert jobs.run(job.pk) == "done"
    job.refresh_from_db()
    assert Slip.objects.filter(appraisal=appraisal).count() == 60
    assert job.result.read() == first


def test_the_slips_job_checks_the_right_again_when_it_runs(personas, own, monkeypatch):
    _fake_pdf(monkeypatch)
    appraisal = open_appraisal(personas)
    job = appraisal_jobs.slips_print_start(
        by=own, appraisal=appraisal, group="member", count=60, url="http://testserver/py/x/"
    )
    services.role_revoke(by=None, user=own, org=personas.orgs["B1"], role=Role.SECRETARY)
    assert jobs.run(job.pk) == "failed"
    job.refresh_from_db()
    assert "书记或副书记" in job.error and not job.result
    assert not Slip.objects.filter(appraisal=appraisal).exists()


def test_a_slips_job_whose_printing_fails_keeps_no_slip_and_no_file(personas, own, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("no fonts")

    monkeypatch.setattr(appraisal_jobs, "slips_pdf", broken)
    appraisal = open_appraisal(personas)
    job = appraisal_jobs.slips_print_start(
        by=own, appraisal=appraisal, group="member", count=60, url="http://testserver/py/x/"
    )
    assert jobs.run(job.pk) == "failed"
    job.refresh_from_db()
    assert job.error == jobs.GENERIC_ERROR and not job.result
    assert not Slip.objects.filter(appraisal=appraisal).exists()


def test_a_double_click_on_more_than_fifty_slips_prints_one_batch(
    personas, own, client, monkeypatch
):
    _fake_pdf(monkeypatch)
    appraisal = open_appraisal(personas)
    client.force_login(own)
    url = reverse("appraisal:slips", args=[appraisal.pk])
    first = client.post(url, {"group": "member", "count": "60"})
    job = Job.objects.get()
    assert first["Location"] == reverse("jobs:detail", args=[job.pk])
    second = client.post(url, {"group": "member", "count": "61"})  # the first is still queued
    page = second.content.decode()
    assert second.status_code == 200 and appraisal_jobs.SLIPS_BUSY in page
    assert 'value="61"' in page  # the form keeps what was typed
    assert Job.objects.count() == 1
    assert jobs.run(job.pk) == "done"
    assert Slip.objects.filter(appraisal=appraisal).count() == 60
    assert client.post(url, {"group": "member", "count": "61"}).status_code == 302  # done now


def test_slips_are_not_served_to_who_may_no_longer_run_the_session(personas, own, client):
    appraisal = open_appraisal(personas)
    job = appraisal_jobs.slips_print_start(
        by=own, appraisal=appraisal, group="member", count=60, url="http://testserver/py/x/"
    )
    job.result.save("slips.pdf", ContentFile(b"%PDF codes"), save=False)  # as if printed
    Job.objects.filter(pk=job.pk).update(
        state=JobState.DONE,
        result=job.result.name,
        result_name="slips.pdf",
        expires_at=timezone.now() + datetime.timedelta(hours=1),
    )
    client.force_login(own)
    url = reverse("jobs:download", args=[job.pk])
    assert client.get(url).status_code == 200
    services.role_revoke(by=None, user=own, org=personas.orgs["B1"], role=Role.SECRETARY)
    response = client.get(url)
    assert response.status_code == 403 and "不能下载" in response.content.decode()


def test_only_who_may_run_the_session_starts_a_slips_job(personas):
    appraisal = open_appraisal(personas)
    with pytest.raises(ValidationError):
        appraisal_jobs.slips_print_start(
            by=personas.user("parent_committee_secretary"),
            appraisal=appraisal,
            group="member",
            count=60,
            url="http://testserver/py/x/",
        )
    assert not Job.objects.exists()


def test_the_member_threshold_counts_members_of_the_subtree(personas, monkeypatch):
    monkeypatch.setattr(roster_jobs, "ROSTER_JOB_MEMBERS", 4)
    b1, t1 = personas.orgs["B1"], personas.orgs["T1"]
    assert not roster_jobs.is_large(b1) and not roster_jobs.is_large(t1)  # 2 and 3 members
    for i in range(2):
        make_member(personas.orgs["B2"], f"新人{i}", birth_date=datetime.date(1970, 1, i + 1))
    assert not roster_jobs.is_large(b1) and roster_jobs.is_large(t1)  # 2 and 5
    assert roster_jobs.is_large(personas.orgs["K1"])  # a county always, uncounted


# ---------------------------------------------------------------- the page in a browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(os.environ.get("SCREENSHOT_DIR", "/tmp/cxzy-screens"))
# Runs before the page's own scripts: every report the policy makes is kept for the test.
WATCH = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
});
"""


def _in_thread(fn):
    """Database work beside Playwright's loop, in a thread that closes its connection."""
    result = []

    def work():
        try:
            result.append(fn())
        finally:
            connections.close_all()

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    return result[0] if result else None


@pytest.mark.browser
@pytest.mark.skipif(
    not Path(CHROMIUM).exists() and not env_bool("CI"), reason="chromium is not installed"
)
def test_the_job_page_follows_the_job_in_a_browser(transactional_db, live_server, monkeypatch):
    """job.js polls under the site's CSP: the bar moves while the job runs; once it is done the
    page shows the download link, on a 375 px phone."""
    own = build_personas().user("own_branch_secretary")
    job = Job.objects.create(
        user=own,
        kind="test_echo",
        title="浏览器中的任务",
        params={"text": "好"},
        state=JobState.RUNNING,
        started_at=timezone.now(),
        done=1,
        total=4,
    )
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": 375, "height": 740}, locale="zh-CN")
        page.add_init_script(WATCH)
        page.goto(live_server.url + reverse("login"))
        page.fill("#id_username", "own")
        page.fill("#id_password", "pw-123456")
        page.click("main button[type=submit]")
        page.goto(live_server.url + reverse("jobs:detail", args=[job.pk]))
        assert "1 / 4" in page.inner_text("#job-text")
        _in_thread(lambda: Job.objects.filter(pk=job.pk).update(done=3))
        expect(page.locator("#job-text")).to_contain_text("3 / 4", timeout=10_000)
        assert page.get_attribute("#job-progress", "value") == "75"
        _in_thread(lambda: jobs.run(job.pk))  # the job finishes: the page reloads itself
        link = page.wait_for_selector("main a[href$='/download/']", timeout=10_000)
        assert "结果-文件.txt" in link.inner_text()
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        assert page.evaluate("window.__csp") == []
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "job_done_phone.png"), full_page=True)
        browser.close()


def test_a_second_county_import_from_the_page_is_refused_with_a_message(personas, client):
    """The second tab's submission, while the first import is still queued: the form says so,
    no second job, no 500."""
    client.force_login(personas.user("county_secretary"))
    url = reverse("orgs:roster_import", args=[personas.orgs["K1"].pk])
    rows = [member_row("钱六", "B1")]
    first = client.post(url, {"file": _upload(workbook(members=rows))})
    assert first.status_code == 302 and Job.objects.count() == 1
    second = client.post(url, {"file": _upload(workbook(members=rows))})
    assert second.status_code == 200
    assert roster_jobs.IMPORT_BUSY in second.content.decode()
    assert Job.objects.count() == 1
