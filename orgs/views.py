"""The pages of the organisation tree and the roll: organisations, members, transfers and the
roster workbook. The site's own pages are in orgs.views_site, logins and roles in
orgs.views_accounts."""

from __future__ import annotations

import copy
import io

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from orgs import access, extensions, roster, roster_jobs, selectors, services
from orgs.access import Action
from orgs.form_helpers import apply_errors
from orgs.forms import (
    MemberForm,
    MemberTransferForm,
    OrganizationEditForm,
    OrganizationForm,
    OrgMoveForm,
    RosterImportForm,
    YearFigureForm,
)
from orgs.models import MemberCategory
from orgs.pager import page_of
from orgs.periods import year_from

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@require_GET
def org_detail(request, pk):
    org = access.get_org_for_user(request.user, pk)
    user = request.user
    members = page_of(request, selectors.org_direct_members(user=user, org=org))
    if access.can(user, Action.EXPORT, org):  # sees the whole subtree, so all its own members
        children = selectors.org_children_counted(org=org)
        member_count = selectors.org_member_count(
            org=org, children=children, direct=members.paginator.count
        )
    else:
        children, member_count = [], selectors.org_member_count(org=org)
    return render(
        request,
        "orgs/org_detail.html",
        {
            "org": org,
            "ancestors": selectors.org_ancestors_visible(user=user, org=org),
            "children": children,
            "member_count": member_count,
            "members": members,
            "figures": org.year_figures.order_by("-year")[:5],
            # names members, transfers and grants: for those who may export the organisation
            # (a member reads their own record's history on the member page)
            "history": org.audit.select_related("actor", "member")[:10]
            if access.can(user, Action.EXPORT, org)
            else [],
            "may_edit": access.can(user, Action.EDIT, org),
            "may_manage": access.can(user, Action.MANAGE, org),
            "may_move": access.can_move_org(user, org),
            "may_export": access.can(user, Action.EXPORT, org),
            "may_grant_roles": bool(access.assignable_roles(user, org)),
            "links": extensions.org_links_for(user, org),
        },
    )


@require_http_methods(["GET", "POST"])
def org_create(request, parent_pk):
    parent = access.get_org_for_user(request.user, parent_pk, Action.MANAGE)
    form = OrganizationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            org = services.organization_create(by=request.user, parent=parent, **form.cleaned_data)
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, f"已新建“{org.name}”。")
            return redirect("orgs:detail", pk=org.pk)
    return render(request, "orgs/org_form.html", {"form": form, "parent": parent, "org": None})


@require_http_methods(["GET", "POST"])
def org_edit(request, pk):
    org = access.get_org_for_user(request.user, pk, Action.MANAGE)
    # the form writes what it cleans onto its instance; the service compares against `org`
    form = OrganizationEditForm(request.POST or None, instance=copy.copy(org))
    if request.method == "POST" and form.is_valid():
        try:
            services.organization_update(
                by=request.user, org=org, **{f: form.cleaned_data[f] for f in form.Meta.fields}
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, "已保存。")
            return redirect("orgs:detail", pk=org.pk)
    return render(request, "orgs/org_form.html", {"form": form, "parent": org.parent, "org": org})


@require_http_methods(["GET", "POST"])
def org_move(request, pk):
    org = access.get_org_for_user(request.user, pk)
    if not access.can_move_org(request.user, org):
        raise access.PermissionDenied("只有上级组织的书记可以移动本组织。")
    form = OrgMoveForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        code = form.cleaned_data["new_parent_code"]
        new_parent = access.orgs_for(request.user, Action.MANAGE).filter(code=code).first()
        if new_parent is None:
            form.add_error("new_parent_code", f"在您管理的范围内找不到组织代码“{code}”。")
        else:
            try:
                services.organization_move(by=request.user, org=org, new_parent=new_parent)
            except ValidationError as error:
                apply_errors(form, error)
            else:
                messages.success(request, f"已将“{org.name}”移到“{new_parent.name}”之下。")
                return redirect("orgs:detail", pk=org.pk)
    return render(request, "orgs/org_move.html", {"form": form, "org": org})


@require_http_methods(["GET", "POST"])
def org_figures(request, pk):
    org = access.get_org_for_user(request.user, pk, Action.MANAGE)
    form = YearFigureForm(request.POST or None, initial={"year": year_from(request)})
    if request.method == "POST" and form.is_valid():
        try:
            services.org_year_figure_set(by=request.user, org=org, **form.cleaned_data)
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, "已保存年度数据。")
            return redirect("orgs:detail", pk=org.pk)
    return render(
        request,
        "orgs/org_figures.html",
        {"form": form, "org": org, "figures": org.year_figures.order_by("-year")},
    )


@require_GET
def member_list(request):
    within = None
    if request.GET.get("org"):
        within = access.get_org_for_user(request.user, request.GET["org"])
    text = request.GET.get("q", "").strip()[:50]
    category = request.GET.get("category", "")
    if category not in MemberCategory.values:
        category = ""
    members = selectors.member_search(
        user=request.user, text=text, within=within, category=category
    )
    return render(
        request,
        "orgs/member_list.html",
        {
            "page": page_of(request, members),
            "q": text,
            "within": within,
            "category": category,
            "categories": MemberCategory.choices,
        },
    )


@require_GET
def member_detail(request, pk):
    member = access.get_member_for_user(request.user, pk)
    return render(
        request,
        "orgs/member_detail.html",
        {
            "member": member,
            "memberships": member.memberships.select_related("org"),
            "history": member.audit.select_related("actor")[:20],
            "may_edit": access.can_on_member(request.user, Action.EDIT, member),
            "may_transfer": access.can_transfer_member(request.user, member),
            "links": extensions.member_links_for(request.user, member),
            "sections": extensions.member_sections_for(request.user, member),
        },
    )


@require_http_methods(["GET", "POST"])
def member_create(request, org_pk):
    org = access.get_org_for_user(request.user, org_pk, Action.EDIT)
    form = MemberForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            member = services.member_create(by=request.user, org=org, **form.cleaned_data)
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, f"已新增党员“{member.name}”。")
            return redirect("orgs:member_detail", pk=member.pk)
    return render(request, "orgs/member_form.html", {"form": form, "org": org, "member": None})


@require_http_methods(["GET", "POST"])
def member_edit(request, pk):
    member = access.get_member_for_user(request.user, pk, Action.EDIT)
    # the form writes what it cleans onto its instance; the service compares against `member`
    form = MemberForm(request.POST or None, instance=copy.copy(member))
    if request.method == "POST" and form.is_valid():
        try:
            services.member_update(by=request.user, member=member, **form.cleaned_data)
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, "已保存。")
            return redirect("orgs:member_detail", pk=member.pk)
    return render(
        request, "orgs/member_form.html", {"form": form, "org": member.org, "member": member}
    )


@require_http_methods(["GET", "POST"])
def member_transfer(request, pk):
    member = access.get_member_for_user(request.user, pk)
    if not access.can_transfer_member(request.user, member):
        raise access.PermissionDenied("只有本支部或上级组织的书记可以办理转接。")
    form = MemberTransferForm(request.POST or None)
    former_org = member.org
    if request.method == "POST" and form.is_valid():
        code = form.cleaned_data["to_code"]
        to_org = access.member_transfer_targets(request.user, member).filter(code=code).first()
        if to_org is None:
            form.add_error("to_code", f"在可转入的范围内找不到组织代码“{code}”。")
        else:
            try:
                services.member_transfer(
                    by=request.user,
                    member=member,
                    to_org=to_org,
                    on=form.cleaned_data["on"],
                    note=form.cleaned_data["note"],
                )
            except ValidationError as error:
                apply_errors(form, error)
            else:
                messages.success(request, f"已将“{member.name}”转至“{to_org.name}”。")
                # a member moved out of the user's scope is a 404 to them from now on
                if access.can_on_member(request.user, Action.VIEW, member):
                    return redirect("orgs:member_detail", pk=member.pk)
                return redirect("orgs:detail", pk=former_org.pk)
    return render(request, "orgs/member_transfer.html", {"form": form, "member": member})


@require_GET
def roster_template(request):
    stream = io.BytesIO()
    roster.write_template(stream)
    stream.seek(0)
    return FileResponse(
        stream, as_attachment=True, filename="党员花名册模板.xlsx", content_type=XLSX
    )


@require_GET
def roster_export(request, pk):
    """A small subtree's roster at once; a large one's (roster_jobs.is_large) is made by a
    background job, which this page offers to start (a POST to jobs:roster_export)."""
    org = access.get_org_for_user(request.user, pk, Action.EXPORT)
    if roster_jobs.is_large(org):
        return render(
            request,
            "orgs/jobs/roster_export.html",
            {"org": org, "threshold": roster_jobs.ROSTER_JOB_MEMBERS},
        )
    stream = io.BytesIO()
    roster.write_export(root=org, stream=stream)
    stream.seek(0)
    filename = roster_jobs.export_filename(org)
    return FileResponse(stream, as_attachment=True, filename=filename, content_type=XLSX)


@require_http_methods(["GET", "POST"])
def roster_import(request, pk):
    org = access.get_org_for_user(request.user, pk, Action.MANAGE)
    form = RosterImportForm(request.POST or None, request.FILES or None)
    errors = []
    limits = roster.page_limits()
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        as_job = roster_jobs.import_runs_as_job(org, upload)
        try:
            if as_job:
                job = roster_jobs.roster_import_start(by=request.user, org=org, upload=upload)
                return redirect("jobs:detail", pk=job.pk)
            result = roster.import_roster(upload, by=request.user, root=org, limits=limits)
        except ValidationError as error:  # another import of this organisation is under way
            apply_errors(form, error)
        except roster.RosterImportError as failure:
            errors = failure.errors
            messages.error(request, f"导入未执行：发现 {len(errors)} 处错误，请修改后重新上传。")
        else:
            if result.changed:
                messages.success(request, f"导入完成。{result.summary()}")
            else:
                messages.info(request, "导入完成，文件与系统中的数据一致，没有变化。")
            return redirect("orgs:detail", pk=org.pk)
    return render(
        request,
        "orgs/roster_import.html",
        {
            "form": form,
            "org": org,
            "errors": errors[:500],
            "error_count": len(errors),
            "max_rows": limits.max_rows,
            "job_bytes": roster_jobs.ROSTER_JOB_UPLOAD_BYTES // 1024,
            "runs_as_job": roster_jobs.is_large(org),
        },
    )
