"""Roster export and import for large subtrees, run as background jobs.

A county, a city or the province, or any organisation whose subtree holds more than
ROSTER_JOB_MEMBERS members, is exported by a job; so is an upload for such a subtree, or one
larger than ROSTER_JOB_UPLOAD_BYTES, imported. Smaller ones stay in the request. The job does
exactly what the page does (the same workbook writer, the same all-or-nothing import with its
row and column messages), after checking again that the user still holds the right; an exported
file is served only while its owner may still export the organisation. One import per
organisation is queued or running at a time (and imports of one subtree are applied one after
another, orgs.roster.applying), so a file submitted twice is not applied twice at once.
"""

from __future__ import annotations

import io

from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from orgs import access, jobs, roster
from orgs.access import Action
from orgs.models import Job, Member, Organization, OrgKind
from orgs.refusals import refuse

# A subtree above this many members is exported and imported in the background; the tiers that
# always hold more (a county has tens of thousands) are not counted at all.
ROSTER_JOB_MEMBERS = 2000
ROSTER_JOB_KINDS = frozenset({OrgKind.PROVINCE, OrgKind.CITY, OrgKind.COUNTY})
# An upload above this size (a workbook of about 5,000 members) is imported in the background.
ROSTER_JOB_UPLOAD_BYTES = 256 * 1024
# Errors of a failed import listed on the job's page (the count names them all).
ERRORS_SHOWN = 200

EXPORT = "roster_export"
IMPORT = "roster_import"
IMPORT_BUSY = (
    "该组织已有一项花名册导入正在排队或进行，请等它完成后再导入（提交人可在“后台任务”中查看进度）。"
)


def is_large(org: Organization) -> bool:
    """Whether `org`'s subtree is too large for a roster in the request (at most one count,
    stopped at the threshold)."""
    if org.kind in ROSTER_JOB_KINDS:
        return True
    members = Member.objects.filter(org.subtree_q("org__")).order_by()
    return members[: ROSTER_JOB_MEMBERS + 1].count() > ROSTER_JOB_MEMBERS


def import_runs_as_job(org: Organization, upload) -> bool:
    return upload.size > ROSTER_JOB_UPLOAD_BYTES or is_large(org)


def export_filename(org: Organization) -> str:
    return f"{org.name}-花名册-{timezone.localdate():%Y%m%d}.xlsx"


def roster_export_start(*, by, org: Organization) -> Job:
    """Queue the export of `org`'s subtree for `by`, who must be allowed to export it."""
    if not access.can(by, Action.EXPORT, org):
        refuse("您没有权限导出该组织的花名册。")
    return jobs.start_job(
        user=by, kind=EXPORT, title=f"导出花名册：{org.name}", params={"org_id": org.pk}
    )


def roster_import_start(*, by, org: Organization, upload) -> Job:
    """Queue the import of `upload` into `org`'s subtree for `by`, who must manage it; refused
    while another import into `org` is queued or running."""
    if not access.can(by, Action.MANAGE, org):
        refuse("您没有权限导入该组织的花名册。")
    return jobs.start_job(
        user=by,
        kind=IMPORT,
        title=f"导入花名册：{org.name}（{upload.name[:60]}）",
        params={"org_id": org.pk},
        upload=upload,
    )


def _org(job: Job) -> Organization:
    org_id = job.params.get("org_id")
    org = Organization.objects.filter(pk=org_id).first() if isinstance(org_id, int) else None
    if org is None:
        refuse("该党组织已不存在。")
    return org


def _run_export(job: Job, progress) -> tuple[str, bytes]:
    org = _org(job)
    if not access.can(job.user, Action.EXPORT, org):
        refuse(f"您已没有导出“{org.name}”花名册的权限，任务未执行。")
    stream = io.BytesIO()
    roster.write_export(root=org, stream=stream, progress=progress)
    return export_filename(org), stream.getvalue()


def _run_import(job: Job, progress) -> None:
    org = _org(job)
    if not access.can(job.user, Action.MANAGE, org):
        refuse(f"您已没有导入“{org.name}”花名册的权限，未导入任何数据。")
    with jobs.open_upload(job) as stream:
        try:
            result = roster.import_roster(
                stream, by=job.user, root=org, limits=roster.page_limits(), progress=progress
            )
        except roster.RosterImportError as failure:
            errors = failure.errors
            lines = [f"导入未执行：发现 {len(errors)} 处错误，请修改后重新上传。"]
            lines += [str(e) for e in errors[:ERRORS_SHOWN]]
            if len(errors) > ERRORS_SHOWN:
                lines.append(f"……另有 {len(errors) - ERRORS_SHOWN} 处错误未列出。")
            raise ValidationError(lines) from None
    if result.changed:
        jobs.note(job, f"导入完成。{result.summary()}")
    else:
        jobs.note(job, "导入完成，文件与系统中的数据一致，没有变化。")
    return None


def _may_download_export(job: Job) -> bool:
    org = Organization.objects.filter(pk=job.params.get("org_id")).first()
    return org is not None and access.can(job.user, Action.EXPORT, org)


def _org_link(job: Job) -> tuple[str, str] | None:
    org = Organization.objects.filter(pk=job.params.get("org_id")).first()
    if org is None or not access.can(job.user, Action.VIEW, org):
        return None
    return (f"返回{org.name}", reverse("orgs:detail", args=[org.pk]))


def register() -> None:
    """Declare the roster job kinds (called once from the AppConfig)."""
    jobs.register_job(
        jobs.JobKind(
            EXPORT, "导出花名册", _run_export, link=_org_link, may_download=_may_download_export
        )
    )
    jobs.register_job(
        jobs.JobKind(
            IMPORT,
            "导入花名册",
            _run_import,
            link=_org_link,
            exclusive=("org_id",),
            busy=IMPORT_BUSY,
        )
    )
