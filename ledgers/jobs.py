"""Batch print of ledgers as a background job (orgs/jobs.py): a branch's members' ledgers, or a
committee's child organisations' ledgers, of one year, as one PDF or as a zip of one PDF each.

The ledgers are assembled CHUNK at a time (a fixed number of queries each, ledgers/assembly.py) so
that memory does not grow with the branch: for one PDF each chunk is laid out by WeasyPrint and
its pages are kept, and the pages of all chunks are written as one document at the end; for a zip
each ledger is written to the archive as soon as it is drawn. The job checks the user's right again
when it runs (it may have been withdrawn since it was queued), and so does the download. One batch
per organisation, year and kind of ledger is queued or running at a time.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable

from django.urls import reverse
from django.utils import timezone

from ledgers import access, selectors
from ledgers.assembly import LedgerView, member_ledgers, org_ledgers
from ledgers.views_office import verify_url
from orgs import access as org_access
from orgs import extensions
from orgs import jobs as org_jobs
from orgs.access import Action
from orgs.models import Job, Organization
from orgs.periods import is_campaign_year
from orgs.refusals import refuse

BATCH = "ledger_batch"
CHUNK = 25  # ledgers assembled and laid out at a time

MEMBERS, ORGS = "members", "orgs"
WHAT_CHOICES = [(MEMBERS, "本组织党员的写实簿"), (ORGS, "下级党组织的写实簿")]
PDF, ZIP = "pdf", "zip"
FORM_CHOICES = [(PDF, "合并为一个PDF文件"), (ZIP, "每册一个PDF文件，打包为zip")]
BUSY = "该组织本年度的这批写实簿正在后台打印，请等它完成后再提交（可在“后台任务”中查看进度）。"

_NAME_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')


def can_print_batch(user, org: Organization) -> bool:
    """Whether `user` may print all the ledgers `org` keeps: its secretary or deputy, or office
    staff over it."""
    return access.leading_role_at(user, org) is not None or org_access.can(
        user, Action.CONFIGURE, org
    )


def what_choices(org: Organization) -> list[tuple[str, str]]:
    """The batches `org` has: its members' ledgers (an organisation with a roll), its children's
    (one with basic-level organisations below it). At most one query."""
    choices = []
    if org.holds_members:
        choices.append(WHAT_CHOICES[0])
    if org.get_children().filter(is_active=True, kind__in=access.LEDGER_ORG_KINDS).exists():
        choices.append(WHAT_CHOICES[1])
    return choices


def _title(org: Organization, year: int, what: str) -> str:
    kind = "党员写实簿" if what == MEMBERS else "下级党组织写实簿"
    return f"批量打印{year}年度{kind}：{org.name}"


def ledger_batch_start(*, by, org: Organization, year: int, what: str, form: str) -> Job:
    """Queue the batch print of the `what` ledgers of `year` that `org` keeps, as one PDF or a
    zip (`form`), for `by`; refused while the same batch is queued or running."""
    if not can_print_batch(by, org):
        refuse("只有本组织的书记、副书记或上级办公室工作人员可以批量打印写实簿。")
    if not is_campaign_year(year):
        refuse("年度有误。")
    if what not in dict(what_choices(org)):
        refuse(f"{org.name}没有这类写实簿可打印。", "what")
    if form not in (PDF, ZIP):
        refuse("请选择文件形式。", "form")
    return org_jobs.start_job(
        user=by,
        kind=BATCH,
        title=_title(org, year, what),
        params={"org_id": org.pk, "year": year, "what": what, "form": form},
    )


def _org(job: Job) -> Organization:
    org_id = job.params.get("org_id")
    org = (
        Organization.objects.select_related("parent").filter(pk=org_id).first()
        if isinstance(org_id, int)
        else None
    )
    if org is None:
        refuse("该党组织已不存在。")
    return org


def _chunks(items: list, size: int = CHUNK):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def batch_ledgers(
    *, org: Organization, year: int, what: str, today
) -> tuple[list, Callable[[list], list[LedgerView]]]:
    """The subjects of the batch, in print order, and the function that assembles a chunk of
    them."""
    if what == MEMBERS:
        subjects = selectors.kept_members(org=org, year=year, today=today)

        def assemble(chunk) -> list[LedgerView]:
            return member_ledgers(year=year, members=chunk, today=today)

    else:
        subjects = selectors.kept_orgs(org=org)

        def assemble(chunk) -> list[LedgerView]:
            return org_ledgers(year=year, orgs=chunk, today=today)

    return subjects, assemble


def zip_entry_name(view: LedgerView) -> str:
    """A file's name in the zip: 2026-张三-<pk>.pdf (the pk tells two 张三 apart)."""
    name = _NAME_UNSAFE.sub("_", view.subject_name).strip(" .") or "ledger"
    return f"{view.year}-{name}-{view.subject.pk}.pdf"


def _run_batch(job: Job, progress) -> tuple[str, bytes]:
    # WeasyPrint is loaded by the work that needs it, not by every process at start-up
    from ledgers import pdf

    org = _org(job)
    params = job.params
    year, what, form = params.get("year"), params.get("what"), params.get("form")
    if not is_campaign_year(year) or what not in (MEMBERS, ORGS) or form not in (PDF, ZIP):
        refuse("任务参数有误。")
    if not can_print_batch(job.user, org):
        refuse(f"您已没有批量打印“{org.name}”写实簿的权限，任务未执行。")
    today = timezone.localdate()
    subjects, assemble = batch_ledgers(org=org, year=year, what=what, today=today)
    if not subjects:
        refuse(f"{org.name}{year}年度没有需要打印的写实簿。")
    total, done = len(subjects), 0
    progress(0, total)
    kind = "党员写实簿" if what == MEMBERS else "下级党组织写实簿"
    base = f"{year}-{_NAME_UNSAFE.sub('_', org.name)}-{kind}"
    if form == ZIP:
        stream = io.BytesIO()
        with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for chunk in _chunks(subjects):
                for view in assemble(chunk):
                    content = pdf.ledger_pdf([view], verify_url=verify_url)
                    archive.writestr(zip_entry_name(view), content)
                    done += 1
                    progress(done, total)
        org_jobs.note(job, f"已打印{total}册写实簿，每册一个PDF文件。")
        return f"{base}.zip", stream.getvalue()
    documents = []
    for chunk in _chunks(subjects):
        html = pdf.ledger_html(assemble(chunk), verify_url=verify_url)
        documents.append(pdf.html_document(html).render())
        done += len(chunk)
        progress(done, total)
    pages = [page for document in documents for page in document.pages]
    content = documents[0].copy(pages).write_pdf()
    org_jobs.note(job, f"已打印{total}册写实簿，共{len(pages)}页。")
    return f"{base}.pdf", content


def _may_download(job: Job) -> bool:
    org = Organization.objects.filter(pk=job.params.get("org_id")).first()
    return org is not None and can_print_batch(job.user, org)


def _link(job: Job) -> tuple[str, str] | None:
    """Back to the grid the batch was printed from, or to the organisation's page."""
    org = Organization.objects.filter(pk=job.params.get("org_id")).first()
    if org is None:
        return None
    year = job.params.get("year")
    route = "ledgers:branch" if job.params.get("what") == MEMBERS else "ledgers:children"
    if is_campaign_year(year) and extensions.may_open(job.user, route, org, year):
        return (f"返回{org.name}{year}年写实簿", reverse(route, args=[org.pk, year]))
    if org_access.can(job.user, Action.VIEW, org):
        return (f"返回{org.name}", reverse("orgs:detail", args=[org.pk]))
    return None


def register() -> None:
    """Declare the ledgers' job kinds (called once from the AppConfig)."""
    org_jobs.register_job(
        org_jobs.JobKind(
            BATCH,
            "批量打印写实簿",
            _run_batch,
            link=_link,
            may_download=_may_download,
            exclusive=("org_id", "year", "what"),
            busy=BUSY,
        )
    )
