"""Long work off the request: exports, imports and batches run as background jobs.

An app registers each kind of job once (`register_job`, in its AppConfig.ready) with the function
that does the work: `run(job, progress)` reads `job.params`, calls `progress(done, total)` now and
then, and returns the result file as (file name, bytes) or None. A view starts one with
`start_job`, which queues it after the request's transaction commits and sends the user to the
progress page (`orgs:job`). With Redis a worker runs it; in the embedded default (no Redis) Celery
runs it eagerly, so the page shows it done.

A job is claimed by a conditional update (queued → running), so a message delivered twice runs
it once; a job left running by a worker killed mid-way runs again when Celery redelivers its
message (tasks are acknowledged late), so a job's work must be safe to repeat (exports are, and
imports are all-or-nothing in one transaction). A refusal (orgs.refusals) ends a job as failed
with its message; any other error as failed with a general message (the details go to the log).
Result files are served only to the user who asked, until `expires_at`; `expire_jobs` deletes
them after that.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from orgs.models import Job, JobState

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class JobKind:
    key: str
    label: str
    run: Callable[[Job, Progress], tuple[str, bytes] | None]


_KINDS: dict[str, JobKind] = {}


def register_job(kind: JobKind) -> JobKind:
    known = _KINDS.get(kind.key)
    if known is not None and known is not kind:
        raise ValueError(f"job kind {kind.key!r} is declared twice")
    _KINDS[kind.key] = kind
    return kind


def job_kind(key: str) -> JobKind:
    return _KINDS[key]


def start_job(*, user, kind: str, title: str, params: dict | None = None) -> Job:
    """Record a job for `user` and queue it once the current transaction commits."""
    job_kind(kind)  # an unknown kind is a programming error, raised here rather than in a worker
    job = Job.objects.create(user=user, kind=kind, title=title[:200], params=params or {})
    transaction.on_commit(lambda: _enqueue(job.pk))
    return job


def _enqueue(job_id: int) -> None:
    from orgs.tasks import run_job

    run_job.delay(job_id)


def run(job_id: int) -> str:
    """Do job `job_id` (the task's body): claim it, run it, record the outcome."""
    now = timezone.now()
    claimed = Job.objects.filter(pk=job_id, state__in=[JobState.QUEUED, JobState.RUNNING]).update(
        state=JobState.RUNNING, started_at=now, done=0
    )
    if not claimed:
        return "skipped"
    job = Job.objects.select_related("user").get(pk=job_id)
    kind = _KINDS.get(job.kind)
    if kind is None:
        _fail(job, "未知的任务类型。")
        return "failed"

    def progress(done: int, total: int) -> None:
        Job.objects.filter(pk=job_id, state=JobState.RUNNING).update(
            done=max(0, int(done)), total=max(0, int(total))
        )

    try:
        output = kind.run(job, progress)
    except ValidationError as exc:
        _fail(job, "；".join(exc.messages)[:500])
        return "failed"
    except Exception:
        log.exception("job %s (%s) failed", job_id, job.kind)
        _fail(job, "任务执行出错，请稍后重试或联系管理员。")
        return "failed"
    finished = timezone.now()
    job.refresh_from_db()
    if output is not None:
        name, content = output
        job.result.save(f"{job.pk}-{name}", ContentFile(content), save=False)
        job.result_name = name[:200]
    job.state = JobState.DONE
    job.finished_at = finished
    job.expires_at = finished + datetime.timedelta(hours=settings.JOB_RESULT_HOURS)
    job.save(update_fields=["result", "result_name", "state", "finished_at", "expires_at"])
    Job.objects.filter(pk=job_id).update(done=F("total"))
    return "done"


def _fail(job: Job, message: str) -> None:
    Job.objects.filter(pk=job.pk).update(
        state=JobState.FAILED, error=message, finished_at=timezone.now()
    )


def expire_jobs(*, now=None) -> int:
    """Delete the result files past their time (the rows stay, as history)."""
    now = now or timezone.now()
    count = 0
    for job in Job.objects.filter(expires_at__lt=now).exclude(Q(result="") | Q(result=None)):
        job.result.delete(save=False)
        Job.objects.filter(pk=job.pk).update(result="")
        count += 1
    return count


def jobs_of(*, user):
    return Job.objects.filter(user=user).order_by("-created_at")


def get_job_for_user(user, pk) -> Job:
    """The user's own job; anyone else's is a 404."""
    from django.http import Http404

    from orgs.access import object_id

    job = Job.objects.filter(pk=object_id(pk), user_id=getattr(user, "pk", None)).first()
    if job is None:
        raise Http404
    return job
