"""The pages of background jobs: the user's own jobs, one job's progress (polled by
static/js/job.js), its result file, and the buttons that start a job where a page cannot do the
work in the request. Every job is its owner's alone: anyone else's is a 404."""

from __future__ import annotations

import mimetypes

from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from orgs import access, jobs, roster_jobs
from orgs.access import Action
from orgs.pager import page_of

PAGE_SIZE = 20


def _text(status: jobs.JobStatus) -> str:
    """The progress line under the bar."""
    job = status.job
    if status.succeeded:
        return job.message or "已完成。"
    if status.failed:
        return "任务失败，未完成。"
    if job.started_at is None:
        return "排队中，等待后台处理……"
    if status.total:
        return f"进行中：已处理 {status.done} / {status.total}（{status.percent}%）"
    return "进行中……"


def _css(status: jobs.JobStatus) -> str:
    if status.succeeded:
        return "status-done"
    if status.failed:
        return "status-overdue"
    return "status-submitted"


@require_GET
def job_list(request):
    page = page_of(request, jobs.jobs_of(user=request.user), per_page=PAGE_SIZE)
    now = timezone.now()
    rows = [(s, _css(s)) for s in (jobs.job_status(job, now=now) for job in page)]
    return render(request, "orgs/jobs/list.html", {"page": page, "rows": rows})


@never_cache
@require_GET
def job_detail(request, pk):
    job = jobs.get_job_for_user(request.user, pk)
    status = jobs.job_status(job, live=True)
    return render(
        request,
        "orgs/jobs/detail.html",
        {
            "job": job,
            "status": status,
            "withdrawn": status.downloadable and not jobs.may_download(job),
            "text": _text(status),
            "css": _css(status),
            "kind_label": jobs.kind_label(job),
            "link": jobs.job_link(job) if status.finished else None,
        },
    )


@never_cache
@require_GET
def job_status(request, pk):
    """What job.js polls: the state, the progress and the line under the bar."""
    job = jobs.get_job_for_user(request.user, pk)
    status = jobs.job_status(job, live=True)
    return JsonResponse(
        {
            "state": job.state,
            "label": job.get_state_display(),
            "done": status.done,
            "total": status.total,
            "percent": status.percent,
            "finished": status.finished,
            "failed": status.failed,
            "text": _text(status),
        }
    )


@never_cache
@require_GET
def job_download(request, pk):
    """The result file, to the user who asked, while they still hold the right it was made under
    and until it expires; otherwise a page says why not."""
    job = jobs.get_job_for_user(request.user, pk)
    status = jobs.job_status(job)
    if status.downloadable and not jobs.may_download(job):
        return render(request, "orgs/jobs/withdrawn.html", {"job": job}, status=403)
    if status.downloadable:
        try:
            stream = job.result.open("rb")
        except FileNotFoundError:
            pass  # removed behind the system's back: the same answer as an expired file
        else:
            content_type = mimetypes.guess_type(job.result_name)[0] or "application/octet-stream"
            return FileResponse(
                stream, as_attachment=True, filename=job.result_name, content_type=content_type
            )
    elif not status.expired:
        raise Http404("该任务没有可下载的文件。")
    elif job.result:
        jobs.discard_result(job)  # past its time: gone now rather than at the nightly sweep
    return render(request, "orgs/jobs/expired.html", {"job": job}, status=410)


@require_POST
def roster_export(request, org_pk):
    """Start the export of a large subtree's roster (the page orgs:roster_export offers it)."""
    org = access.get_org_for_user(request.user, org_pk, Action.EXPORT)
    job = roster_jobs.roster_export_start(by=request.user, org=org)
    return redirect("jobs:detail", pk=job.pk)
