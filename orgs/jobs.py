"""Long work off the request: exports, imports and batches run as background jobs.

An app registers each kind of job once (`register_job`, in its AppConfig.ready) with the function
that does the work: `run(job, progress)` reads `job.params`, calls `progress(done, total)` now and
then, and returns the result file as (file name, bytes) or None. A view starts one with
`start_job`, which queues it after the request's transaction commits and sends the user to the
progress page (`jobs:detail`). With Redis a worker runs it; in the embedded default (no Redis)
Celery runs it eagerly, so the page shows it done.

A job is claimed by a conditional update (queued → running), so a message delivered twice runs
it once; a job left running by a worker killed mid-way runs again when Celery redelivers its
message (tasks are acknowledged late), so a job's work must be safe to repeat (exports are, and
imports are all-or-nothing in one transaction). Work whose result must not be made twice (a batch
of voting codes) keeps its file in its own transaction (`keep_result`) and, run again, finds it.
A refusal (orgs.refusals) ends a job as failed with its messages; any other error, in the work
or in recording its outcome, as failed with a general message (the details go to the log), and a
failed job keeps no file.

A kind may allow one job at a time per subject (`exclusive`: the parameters naming it, such as the
organisation an import writes to): a second one queued while the first is queued or running is
refused with the kind's `busy` message, so a double click does not run the work twice.

The run function checks the user's right again: access may have been withdrawn since the job was
queued; so does the download (`may_download`), for the same reason. An uploaded file reaches the
job through `start_job(upload=…)`: it is kept in the default storage under a private prefix,
named by a random token (never a path taken from the params), and deleted when the job ends.

Result files are served only to the user who asked, until `expires_at` (set when the file is
kept); `expire_jobs` deletes them after that, and the file of a job that never finished once its
kind's keep time has passed (and uploads a job left behind).
"""

from __future__ import annotations

import datetime
import logging
import re
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.db.models import F, Q
from django.http import Http404
from django.utils import timezone

from orgs.models import Job, JobState
from orgs.refusals import refuse

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]

GENERIC_ERROR = "任务执行出错，请稍后重试或联系管理员。"
ERROR_CHARS = 5000  # Job.error's length
UPLOAD_PREFIX = "private/job-uploads/"
_UPLOAD_TOKEN = re.compile(r"[0-9a-f]{32}")
# Progress reported inside the job's own transaction is invisible to the page polling it (another
# connection), so it goes through the cache (Redis in production) until the transaction ends.
PROGRESS_SECONDS = 24 * 3600
# A job queued or running for longer than this was lost (its message gone with a broker that
# restarted): it no longer keeps another of its kind from being queued.
STUCK_HOURS = 6
BUSY = "同样的任务正在进行，请等它完成后再提交。"
_ACTIVE = (JobState.QUEUED, JobState.RUNNING)
_LOCK_CLASS = 7102  # pg_advisory_xact_lock's first key: starting an exclusive job
_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,8}")


@dataclass(frozen=True)
class JobKind:
    key: str
    label: str
    run: Callable[[Job, Progress], tuple[str, bytes] | None]
    # where the job page sends the user afterwards: (label, url), or None
    link: Callable[[Job], tuple[str, str] | None] | None = None
    # how long the result file is kept; None: settings.JOB_RESULT_HOURS
    keep_hours: float | None = None
    # whether the job's owner may still download its file (the right it was made under);
    # None: the owner may, until it expires
    may_download: Callable[[Job], bool] | None = None
    # the parameters naming the job's subject: one job at a time per subject (see start_job)
    exclusive: tuple[str, ...] = ()
    busy: str = BUSY  # the refusal of a second job for the same subject


_KINDS: dict[str, JobKind] = {}


def register_job(kind: JobKind) -> JobKind:
    known = _KINDS.get(kind.key)
    if known is not None and known is not kind:
        raise ValueError(f"job kind {kind.key!r} is declared twice")
    _KINDS[kind.key] = kind
    return kind


def job_kind(key: str) -> JobKind:
    return _KINDS[key]


def start_job(*, user, kind: str, title: str, params: dict | None = None, upload=None) -> Job:
    """Record a job for `user` and queue it once the current transaction commits; `upload`, an
    uploaded file, is kept for the job until it ends. A kind with `exclusive` parameters refuses
    a job while another with the same values is queued or running."""
    spec = job_kind(kind)  # an unknown kind is a programming error, raised here, not in a worker
    params = dict(params or {})
    params.pop("upload", None)
    if upload is not None:
        params["upload"] = _store_upload(upload)
    try:
        with transaction.atomic():
            _lock_subject(spec, params)
            job = Job.objects.create(user=user, kind=kind, title=title[:200], params=params)
            # checked after the insert: on SQLite the insert is what makes a second start wait
            if spec.exclusive and _busy(spec, params).exclude(pk=job.pk).exists():
                refuse(spec.busy)
    except BaseException:
        if upload is not None:
            default_storage.delete(f"{UPLOAD_PREFIX}{params['upload']}")
        raise
    transaction.on_commit(lambda: _enqueue(job.pk))
    return job


def _subject(spec: JobKind, params: dict) -> dict:
    return {f"params__{name}": params.get(name) for name in spec.exclusive}


def _busy(spec: JobKind, params: dict):
    """The jobs of `spec` for the same subject as `params` that are queued or running."""
    since = timezone.now() - datetime.timedelta(hours=STUCK_HOURS)
    return Job.objects.filter(
        kind=spec.key, state__in=_ACTIVE, created_at__gte=since, **_subject(spec, params)
    )


def _lock_subject(spec: JobKind, params: dict) -> None:
    """Two starts for one subject at once: the second waits for the first's transaction, then
    sees its job (PostgreSQL; SQLite writes one transaction at a time anyway)."""
    if not spec.exclusive or connection.vendor != "postgresql":
        return
    key = repr((spec.key, sorted(_subject(spec, params).items()))).encode()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, %s)", [_LOCK_CLASS, zlib.crc32(key) - 2**31]
        )


def _enqueue(job_id: int) -> None:
    from orgs.tasks import run_job

    run_job.delay(job_id)


def run(job_id: int) -> str:
    """Do job `job_id` (the task's body): claim it, run it, record the outcome."""
    now = timezone.now()
    claimed = Job.objects.filter(pk=job_id, state__in=[JobState.QUEUED, JobState.RUNNING]).update(
        state=JobState.RUNNING, started_at=now, done=0, error=""
    )
    if not claimed:
        return "skipped"
    cache.delete(_progress_key(job_id))
    job = Job.objects.select_related("user").get(pk=job_id)
    kind = _KINDS.get(job.kind)
    if kind is None:
        _fail(job, "未知的任务类型。")
        return "failed"
    depth = len(connection.atomic_blocks)

    def progress(done: int, total: int) -> None:
        done, total = max(0, int(done)), max(0, int(total))
        if len(connection.atomic_blocks) > depth:
            cache.set(_progress_key(job_id), (done, total), PROGRESS_SECONDS)
        else:
            Job.objects.filter(pk=job_id, state=JobState.RUNNING).update(done=done, total=total)

    try:
        if not job.user.is_active:
            refuse("您的账号已停用，任务未执行。")
        output = kind.run(job, progress)
    except ValidationError as exc:
        _fail(job, _error_text(exc.messages))
        return "failed"
    except Exception:
        log.exception("job %s (%s) failed", job_id, job.kind)
        _fail(job, GENERIC_ERROR)
        return "failed"
    finally:
        cache.delete(_progress_key(job_id))
    try:
        _discard_upload(job_id)
    except Exception:  # the work is done; the sweep deletes the upload later
        log.exception("job %s (%s): the upload was not deleted", job_id, job.kind)
    try:
        _finish(job, kind, output)
    except Exception:
        log.exception("job %s (%s) failed recording its outcome", job_id, job.kind)
        _fail(job, GENERIC_ERROR)
        return "failed"
    return "done"


def _finish(job: Job, kind: JobKind, output: tuple[str, bytes] | None) -> None:
    """Keep the result file and mark the job done; on any error the file saved here is deleted
    again (the caller marks the job failed)."""
    finished = timezone.now()
    job.refresh_from_db()
    saved = None
    try:
        if output is not None:
            name, content = output
            job.result.save(_stored_name(job, name), ContentFile(content), save=False)
            saved = job.result.name
            job.result_name = _download_name(name)
        if output is not None or not (job.result and job.expires_at):
            job.expires_at = finished + _keep(job.kind)
        # else the file was kept by keep_result, and its time counts from then
        job.state = JobState.DONE
        job.finished_at = finished
        job.save(update_fields=["result", "result_name", "state", "finished_at", "expires_at"])
        Job.objects.filter(pk=job.pk).update(done=F("total"))
    except BaseException:
        if saved:
            job.result.storage.delete(saved)
        raise


def _keep(kind_key: str) -> datetime.timedelta:
    """How long a result file of this kind is kept."""
    kind = _KINDS.get(kind_key)
    hours = kind.keep_hours if kind and kind.keep_hours is not None else settings.JOB_RESULT_HOURS
    return datetime.timedelta(hours=hours)


def _stored_name(job: Job, name: str) -> str:
    """The file's name in storage: the job's id, a random part and the extension; never the
    name shown to the user, which holds an organisation's name."""
    suffix = _SUFFIX.fullmatch(PurePosixPath(name.replace("\\", "/")).suffix or "")
    return f"{job.pk}-{uuid.uuid4().hex[:16]}{suffix.group(0).lower() if suffix else ''}"


def _download_name(name: str) -> str:
    """The file name the browser is given, without path separators or control characters."""
    cleaned = "".join("_" if ch in "/\\" or ord(ch) < 32 or ord(ch) == 127 else ch for ch in name)
    return cleaned.strip(" .")[:200] or "result"


def _error_text(messages: list[str]) -> str:
    """A refusal's messages one a line, cut at a line end to fit Job.error."""
    text = ""
    for line in messages:
        if len(text) + len(line) + 1 > ERROR_CHARS:
            break
        text += ("\n" if text else "") + line
    return text or (messages[0][:ERROR_CHARS] if messages else GENERIC_ERROR)


def _fail(job: Job, message: str) -> None:
    """End the job as failed: nothing of it is kept (no result file, no upload)."""
    stored = Job.objects.filter(pk=job.pk).values_list("result", flat=True).first()
    if stored:
        Job._meta.get_field("result").storage.delete(stored)
    Job.objects.filter(pk=job.pk).update(
        state=JobState.FAILED,
        error=message,
        finished_at=timezone.now(),
        result="",
        result_name="",
        expires_at=None,
    )
    _discard_upload(job.pk)


def keep_result(job: Job, *, name: str, content: bytes) -> None:
    """Store the result file now, in the caller's transaction: for work whose result must commit
    with it (a batch of voting codes), so that a second run finds it instead of redoing the work.
    Its time to expire starts now, whether or not the job is ever marked done. The kind's run
    then returns None."""
    job.result.save(_stored_name(job, name), ContentFile(content), save=False)
    job.result_name = _download_name(name)
    job.expires_at = timezone.now() + _keep(job.kind)
    Job.objects.filter(pk=job.pk).update(
        result=job.result.name, result_name=job.result_name, expires_at=job.expires_at
    )


def note(job: Job, message: str) -> None:
    """What the job did, in a sentence for its page (counts, a range of serials)."""
    job.message = message[:500]
    Job.objects.filter(pk=job.pk).update(message=job.message)


def _progress_key(job_id: int) -> str:
    return f"job-progress:{job_id}"


# ---------------------------------------------------------------- uploads kept for a job


def _store_upload(upload) -> str:
    token = uuid.uuid4().hex
    path = f"{UPLOAD_PREFIX}{token}"
    stored = default_storage.save(path, upload)
    if stored != path:  # a storage that renamed it: keep nothing the job cannot find
        default_storage.delete(stored)
        raise RuntimeError("upload stored under another name")
    return token


def _upload_path(job: Job) -> str | None:
    token = job.params.get("upload") if isinstance(job.params, dict) else None
    if not isinstance(token, str) or not _UPLOAD_TOKEN.fullmatch(token):
        return None
    return f"{UPLOAD_PREFIX}{token}"


def open_upload(job: Job) -> File:
    """The file uploaded for `job`, opened for reading (a refusal when it is gone)."""
    path = _upload_path(job)
    if path is None or not default_storage.exists(path):
        refuse("上传的文件已不存在，请重新上传。")
    return default_storage.open(path, "rb")


def _discard_upload(job_id: int) -> None:
    job = Job.objects.filter(pk=job_id).only("params").first()
    if job is None:
        return
    path = _upload_path(job)
    if path is not None:
        default_storage.delete(path)
    if "upload" in job.params:
        params = {k: v for k, v in job.params.items() if k != "upload"}
        Job.objects.filter(pk=job_id).update(params=params)


# ---------------------------------------------------------------- expiry


def discard_result(job: Job) -> None:
    """Delete the result file (the row stays, as history)."""
    if job.result:
        job.result.delete(save=False)
    Job.objects.filter(pk=job.pk).update(result="")


def expire_jobs(*, now=None) -> int:
    """Delete the result files past their time (the rows stay, as history), the files of jobs
    that never finished (a worker killed after keep_result) once their kind's keep time has
    passed, and the uploads of jobs that ended, or never ran, without deleting theirs."""
    now = now or timezone.now()
    count = 0
    for job in Job.objects.filter(expires_at__lt=now).exclude(Q(result="") | Q(result=None)):
        discard_result(job)
        count += 1
    unfinished = Job.objects.exclude(state=JobState.DONE).exclude(Q(result="") | Q(result=None))
    for job in unfinished:
        if (job.started_at or job.created_at) + _keep(job.kind) < now:
            discard_result(job)
            count += 1
    stale = now - datetime.timedelta(hours=settings.JOB_RESULT_HOURS)
    left = Job.objects.filter(params__has_key="upload").filter(
        Q(state__in=[JobState.DONE, JobState.FAILED]) | Q(created_at__lt=stale)
    )
    for job_id in left.values_list("pk", flat=True):
        _discard_upload(job_id)
    return count


# ---------------------------------------------------------------- reading jobs


def jobs_of(*, user):
    return Job.objects.filter(user=user).order_by("-created_at", "-pk")


def get_job_for_user(user, pk) -> Job:
    """The user's own job; anyone else's is a 404."""
    from orgs.access import object_id

    job = Job.objects.filter(pk=object_id(pk), user_id=getattr(user, "pk", None)).first()
    if job is None:
        raise Http404("没有找到该任务。")
    return job


@dataclass(frozen=True)
class JobStatus:
    """A job as its pages show it."""

    job: Job
    done: int
    total: int
    percent: int
    finished: bool  # done or failed: nothing more will happen
    failed: bool
    succeeded: bool
    downloadable: bool  # done, with a file still kept
    expired: bool  # done, with a file no longer kept
    error_lines: tuple[str, ...]


def job_status(job: Job, *, now=None, live: bool = False) -> JobStatus:
    """`job`'s state for its pages; `live` also reads the progress a running job reports from
    inside its transaction (one cache read)."""
    now = now or timezone.now()
    done, total = job.done, job.total
    running = job.state == JobState.RUNNING
    if live and running:
        cached = cache.get(_progress_key(job.pk))
        if cached:
            done, total = cached
    succeeded = job.state == JobState.DONE
    failed = job.state == JobState.FAILED
    if succeeded:
        percent = 100
    else:
        percent = min(99, done * 100 // total) if total else 0
    in_time = job.expires_at is not None and now < job.expires_at
    return JobStatus(
        job=job,
        done=done,
        total=total,
        percent=percent,
        finished=succeeded or failed,
        failed=failed,
        succeeded=succeeded,
        downloadable=succeeded and bool(job.result) and in_time,
        expired=succeeded and bool(job.result_name) and not (bool(job.result) and in_time),
        error_lines=tuple(line for line in job.error.splitlines() if line.strip()),
    )


def may_download(job: Job) -> bool:
    """Whether `job`'s owner may still download its file: the kind checks again the right the
    job was made under (it may have been withdrawn since)."""
    kind = _KINDS.get(job.kind)
    if kind is None:
        return False
    return kind.may_download is None or bool(kind.may_download(job))


def kind_label(job: Job) -> str:
    kind = _KINDS.get(job.kind)
    return kind.label if kind else job.kind


def job_link(job: Job) -> tuple[str, str] | None:
    """Where the job's page sends the user afterwards, as its kind says."""
    kind = _KINDS.get(job.kind)
    if kind is None or kind.link is None:
        return None
    return kind.link(job)
