"""Logins and roles: logging in (throttled), changing one's password, granting roles."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordChangeForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from orgs import access, selectors, services
from orgs.feedback import show_refusal
from orgs.form_helpers import apply_errors
from orgs.forms import LoginForm, RoleForm
from orgs.models import Role
from orgs.password_policy import must_change_password, password_changed_in_session

CANDIDATES_SHOWN = 200  # members listed to choose from; a name search finds the others

login = auth_views.LoginView.as_view(
    authentication_form=LoginForm, redirect_authenticated_user=True
)


@sensitive_post_parameters()
@require_http_methods(["GET", "POST"])
def password_change(request):
    """Every user changes their own password here; one set by someone else must change first."""
    form = PasswordChangeForm(user=request.user, data=request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.password_change(
                user=request.user, password=form.cleaned_data["new_password1"], by=request.user
            )
        except ValidationError as error:
            form.add_error("new_password2", error)
        else:
            update_session_auth_hash(request, request.user)
            password_changed_in_session(request)
            messages.success(request, "密码已修改。")
            return redirect("home")
    return render(
        request,
        "registration/password_change_form.html",
        {"form": form, "forced": must_change_password(request)},
    )


def _role_org(request, pk):
    """The organisation, if the user may grant at least one role there (else 403; 404 unseen)."""
    org = access.get_org_for_user(request.user, pk)
    assignable = access.assignable_roles(request.user, org)
    if not assignable:
        raise PermissionDenied("您没有权限进行此操作。")
    return org, assignable


@require_http_methods(["GET", "POST"])
def roles(request, pk):
    """Who holds which role at the organisation; grant roles to members in the user's scope
    (opening a login for a member who has none)."""
    org, assignable = _role_org(request, pk)
    scope = access.members_visible_to(request.user)
    query = request.GET.get("q", "").strip()[:50]
    shown = scope.filter(name__contains=query) if query else scope.filter(org=org)
    candidates = list(shown.select_related("org").order_by("name", "pk")[:CANDIDATES_SHOWN])
    form = RoleForm(
        request.POST or None,
        roles=assignable,
        scope=scope.select_related("org"),
        candidates=candidates,
    )
    if request.method == "POST" and form.is_valid():
        try:
            user, password = services.role_assign(
                by=request.user,
                org=org,
                role=Role(form.cleaned_data["role"]),
                member=form.cleaned_data["member"],
                username=form.cleaned_data["username"],
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            role = Role(form.cleaned_data["role"])
            note = (
                f"初始密码：{password}（只显示这一次，请转告本人，登录后须修改）"
                if password
                else ""
            )
            messages.success(request, f"已授予 {user.get_username()} {role.label}角色。{note}")
            return redirect("orgs:roles", pk=org.pk)
    rows = [
        (
            grant,
            grant.role,
            access.can_withdraw_role(request.user, org, grant.role, holder_id=grant.user_id),
        )
        for grant in selectors.role_grants_at(org=org)
    ]
    return render(
        request,
        "orgs/roles.html",
        {
            "org": org,
            "form": form,
            "rows": rows,
            "q": query,
            "candidates_cut": len(candidates) == CANDIDATES_SHOWN,
        },
    )


@require_POST
def role_revoke(request, pk):
    org, _ = _role_org(request, pk)
    if not request.POST.get("grant", "").isdigit():
        messages.error(request, "请选择要撤销的角色。")
        return redirect("orgs:roles", pk=org.pk)
    grant = access.get_role_grant_for_user(request.user, request.POST["grant"], org=org)
    try:
        services.role_withdraw(by=request.user, org=org, role=grant.role, user=grant.user)
    except ValidationError as error:
        show_refusal(request, error)
    else:
        messages.success(request, f"已撤销 {grant.user.get_username()} 的角色。")
    return redirect("orgs:roles", pk=org.pk)
