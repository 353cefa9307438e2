"""Background jobs of the democratic appraisal: printing a large batch of slips (选票码).

A batch of more than SLIPS_JOB_THRESHOLD slips is printed by a job. The codes stay where the page
keeps them: only in the PDF. The job's parameters hold the session, the group and the count, never
a code; its messages name the serials, never a code; the PDF is kept in the same transaction that
stores the slips' hashes (orgs.jobs.keep_result), so a job run again after a crash finds its batch
instead of printing another, and a batch whose PDF was not kept was never issued. The file is
served only to the user who asked, for SLIPS_FILE_HOURS from the moment it is kept, and only while
they may still run the session; the job checks that again at run time too (slips_issue refuses
anyone else). One slips job per session is queued or running at a time: a second click on the
button does not print a second batch.
"""

from __future__ import annotations

import base64
import io

import segno
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.debug import sensitive_variables

from orgs import jobs
from orgs.models import Job
from orgs.refusals import refuse
from reviews.appraisal import services
from reviews.appraisal.access import can_run_appraisal, run_refusal
from reviews.appraisal.models import Appraisal, Group

SLIPS = "appraisal_slips"
SLIPS_JOB_THRESHOLD = 50  # a batch above this many slips is printed in the background
# The printed codes are votes waiting to be cast: the file is kept only long enough to download.
SLIPS_FILE_HOURS = 2
SLIPS_BUSY = (
    "本次评议已有一批选票码正在印制，请等它完成后再印制下一批（可在“后台任务”中查看进度）。"
)


def slips_print_start(*, by, appraisal: Appraisal, group: str, count: int, url: str) -> Job:
    """Queue the printing of `count` slips of `group` for `by`, who must run the session; `url`
    is the voting page's address printed on them. Refused while another batch of the session is
    queued or being printed."""
    if not can_run_appraisal(by, appraisal):
        refuse(run_refusal(appraisal))
    return jobs.start_job(
        user=by,
        kind=SLIPS,
        title=(
            f"印制选票码：{appraisal.org.name} {appraisal.year}年{appraisal.get_kind_display()}"
            f" · {Group(group).label} {count} 张"
        ),
        params={"appraisal_id": appraisal.pk, "group": group, "count": count, "url": url},
    )


def _png(text: str) -> str:
    stream = io.BytesIO()
    segno.make(text, error="m").save(stream, kind="png", scale=4, border=1)
    return "data:image/png;base64," + base64.b64encode(stream.getvalue()).decode()


@sensitive_variables()
def slips_pdf(appraisal: Appraisal, group: str, issued, *, url: str, progress=None) -> bytes:
    """The printed slips. Each carries two QR codes: the voting page's address (no code in it)
    and the code alone, which the page's scanner reads; both are also printed as text."""
    from orgs.pdf import render_pdf

    link_qr = _png(url)
    slips = []
    for done, (serial, code) in enumerate(issued, start=1):
        slips.append({"serial": f"{serial:04d}", "code": code, "qr": _png(code)})
        if progress is not None and done % 10 == 0:
            progress(done, len(issued) + 1)
    rows = [slips[i : i + 2] for i in range(0, len(slips), 2)]
    html = render_to_string(
        "reviews/appraisal/slips_print.html",
        {
            "appraisal": appraisal,
            "rows": rows,
            "group": Group(group).label,
            "url": url,
            "link_qr": link_qr,
        },
    )
    return render_pdf(html)


def slips_filename(appraisal: Appraisal, issued) -> str:
    return f"slips-{appraisal.public_id}-{issued[0][0]:04d}-{issued[-1][0]:04d}.pdf"


class _Printed(Exception):
    """Another run of the same job kept its batch first: this one issues nothing."""


@sensitive_variables()
def _run_slips(job: Job, progress) -> None:
    if job.result:
        return None  # the batch was issued and its file kept by an earlier run of this job
    params = job.params
    appraisal = (
        Appraisal.objects.select_related("org").filter(pk=params.get("appraisal_id")).first()
    )
    if appraisal is None:
        refuse("该评议已不存在。")
    group, count, url = params.get("group"), params.get("count"), params.get("url")
    if not isinstance(count, int) or not isinstance(group, str) or not isinstance(url, str):
        refuse("任务参数有误，请重新印制。")
    progress(0, count + 1)

    kept: list[str] = []

    @sensitive_variables()
    def render(issued):
        # in slips_issue's transaction: a run that got here first and kept its batch wins
        if Job.objects.select_for_update().filter(pk=job.pk).exclude(result="").exists():
            raise _Printed
        pdf = slips_pdf(appraisal, group, issued, url=url, progress=progress)
        jobs.keep_result(job, name=slips_filename(appraisal, issued), content=pdf)
        kept.append(job.result.name)
        first, last = issued[0][0], issued[-1][0]
        jobs.note(
            job,
            f"已印制{Group(group).label}选票码 {len(issued)} 张，编号 {first:04d}–{last:04d}。"
            "遗失的整批可在选票码页面按编号作废。",
        )

    try:
        services.slips_issue(
            by=job.user, appraisal=appraisal, group=group, count=count, render=render
        )
    except _Printed:
        pass
    except BaseException:
        for name in kept:  # the slips were not stored: their codes count for nothing, drop them
            job.result.storage.delete(name)
        raise
    return None


def _runnable(job: Job) -> Appraisal | None:
    """The job's session, if its owner may still run it."""
    appraisal = (
        Appraisal.objects.select_related("org").filter(pk=job.params.get("appraisal_id")).first()
    )
    if appraisal is None or not can_run_appraisal(job.user, appraisal):
        return None
    return appraisal


def _slips_link(job: Job) -> tuple[str, str] | None:
    appraisal = _runnable(job)
    if appraisal is None:
        return None
    return ("返回选票码页面", reverse("appraisal:slips", args=[appraisal.pk]))


def register() -> None:
    """Declare the appraisal's job kinds (called once from the AppConfig)."""
    jobs.register_job(
        jobs.JobKind(
            SLIPS,
            "印制选票码",
            _run_slips,
            link=_slips_link,
            keep_hours=SLIPS_FILE_HOURS,
            may_download=lambda job: _runnable(job) is not None,
            exclusive=("appraisal_id",),
            busy=SLIPS_BUSY,
        )
    )
