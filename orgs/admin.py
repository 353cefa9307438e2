"""Django admin for the provincial office. Every write goes through orgs.services."""

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse

from orgs import services
from orgs.accounts import password_set_by
from orgs.admin_base import ReadOnlyAdmin
from orgs.forms import AdminLoginForm
from orgs.locks import refuse_if_locked
from orgs.models import (
    AuditEntry,
    Member,
    Membership,
    OfficeSetting,
    Organization,
    OrganizationUserObjectPermission,
    OrgYearFigure,
    Role,
)


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "kind", "sector", "parent", "is_active"]
    list_filter = ["kind", "sector", "is_active"]
    search_fields = ["name", "code"]
    raw_id_fields = ["parent", "secretary"]
    readonly_fields = ["created_at", "updated_at"]
    list_select_related = ["parent"]
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        # A move goes through the page (or organization_move), where the subtree moves with it.
        return [*self.readonly_fields, "parent"] if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        data = {f: form.cleaned_data[f] for f in ("name", "code", "kind", "sector", "is_active")}
        if change:
            original = Organization.objects.get(pk=obj.pk)
            services.organization_update(
                by=request.user, org=original, secretary=form.cleaned_data.get("secretary"), **data
            )
        else:
            created = services.organization_create(
                by=request.user, parent=form.cleaned_data.get("parent"), **data
            )
            obj.pk = created.pk


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["org"]
    can_delete = False
    readonly_fields = ["org", "start", "end", "note"]

    def has_add_permission(self, request, obj=None):
        return False


class MemberAdminForm(forms.ModelForm):
    def clean(self):
        data = super().clean()
        if self.instance.pk:
            # the 写实簿 header under a signature, refused on the form (the triggers hold it too)
            try:
                refuse_if_locked("member", [self.instance.pk], fields=self.changed_data)
            except ValidationError as error:
                raise forms.ValidationError(error.messages) from None
        return data


@admin.register(Member)
class MemberAdmin(admin.ModelAdmin):
    form = MemberAdminForm
    list_display = ["name", "gender", "birth_date", "joined_on", "category", "org"]
    list_filter = ["category", "gender", "education"]
    search_fields = ["name", "org__name", "org__code"]
    raw_id_fields = ["org", "user"]
    inlines = [MembershipInline]
    list_select_related = ["org"]
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        return ["org"] if obj else []

    def save_model(self, request, obj, form, change):
        fields = {f: form.cleaned_data[f] for f in services.MEMBER_FIELDS} | {
            "user": form.cleaned_data.get("user")
        }
        if change:
            services.member_update(by=request.user, member=Member.objects.get(pk=obj.pk), **fields)
        else:
            user = fields.pop("user")
            created = services.member_create(
                by=request.user, org=form.cleaned_data["org"], **fields
            )
            if user:
                services.member_update(by=request.user, member=created, user=user)
            obj.pk = created.pk


class RoleGrantForm(forms.ModelForm):
    role = forms.ChoiceField(label="角色", choices=Role.choices)
    granted_by = None  # the admin user, set per request by RoleGrantAdmin.get_form

    class Meta:
        model = OrganizationUserObjectPermission
        fields = ["user", "content_object"]
        labels = {"content_object": "党组织", "user": "用户"}

    def clean(self):
        data = super().clean()
        user, org, role = data.get("user"), data.get("content_object"), data.get("role")
        if user is not None and org is not None and role:
            # The service's own rules (a member's login; the member role on the roll), shown on
            # the form instead of failing in save_model, which re-checks them.
            try:
                services._check_grant(by=self.granted_by, user=user, org=org, role=Role(role))
            except ValidationError as error:
                raise forms.ValidationError(error.messages) from None
        return data


@admin.register(OrganizationUserObjectPermission)
class RoleGrantAdmin(admin.ModelAdmin):
    form = RoleGrantForm
    list_display = ["user", "permission", "content_object"]
    raw_id_fields = ["user", "content_object"]
    search_fields = ["user__username", "content_object__name", "content_object__code"]
    list_select_related = ["user", "permission", "content_object"]

    def has_change_permission(self, request, obj=None):
        return False

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        return type(form.__name__, (form,), {"granted_by": request.user})

    def save_model(self, request, obj, form, change):
        role = Role(form.cleaned_data["role"])
        services.role_grant(
            by=request.user,
            user=form.cleaned_data["user"],
            org=form.cleaned_data["content_object"],
            role=role,
        )
        # The row the service made, for the admin's log entry and redirect.
        made = OrganizationUserObjectPermission.objects.select_related("permission").get(
            user=form.cleaned_data["user"],
            content_object=form.cleaned_data["content_object"],
            permission__codename=role.codename,
        )
        obj.pk, obj.permission = made.pk, made.permission

    def has_delete_permission(self, request, obj=None):
        # Nobody revokes their own role (role_revoke refuses it); the bulk delete asks this for
        # every selected row and refuses the whole selection when one is the admin's own.
        if obj is not None and obj.user_id == request.user.pk:
            return False
        return super().has_delete_permission(request, obj)

    def delete_model(self, request, obj):
        role = Role(obj.permission.codename.removeprefix("role_"))
        services.role_revoke(by=request.user, user=obj.user, org=obj.content_object, role=role)

    @transaction.atomic
    def delete_queryset(self, request, queryset):
        # The bulk "delete selected" action: each grant through role_revoke, audited.
        for obj in queryset.select_related("user", "permission", "content_object"):
            self.delete_model(request, obj)


@admin.register(OrgYearFigure)
class OrgYearFigureAdmin(admin.ModelAdmin):
    list_display = ["org", "year", "activist_count"]
    raw_id_fields = ["org"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ["at", "actor", "action", "summary"]
    list_filter = ["action"]
    search_fields = ["summary"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class AccountAdmin(UserAdmin):
    """Django's user admin; a password a superuser sets here is known to them, so the owner must
    change it at the next login (orgs.password_policy)."""

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change and obj.has_usable_password():
            password_set_by(user=obj, by=request.user)

    def user_change_password(self, request, id, form_url=""):
        response = super().user_change_password(request, id, form_url)
        done = reverse(f"{self.admin_site.name}:auth_user_change", args=(unquote(id),))
        if (
            request.method == "POST"
            and response.status_code == 302
            and response["Location"] == done
        ):
            password_set_by(user=get_user_model().objects.get(pk=unquote(id)), by=request.user)
        return response


admin.site.login_form = AdminLoginForm

if admin.site.is_registered(get_user_model()):
    admin.site.unregister(get_user_model())
admin.site.register(get_user_model(), AccountAdmin)


@admin.register(OfficeSetting)
class OfficeSettingAdmin(ReadOnlyAdmin):
    list_display = ["year", "key", "org", "set_by", "updated_at"]
    list_filter = ["key", "year"]
    list_select_related = ["org", "set_by"]
    raw_id_fields = ["org", "set_by"]
