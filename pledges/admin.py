"""Read-only views of the pledge records for the provincial office; changes go through the pages."""

from django.contrib import admin

from orgs.admin_base import ReadOnlyAdmin
from pledges.models import Pledge, PledgeEvent, Rectification, SecretaryPledge


class EventInline(admin.TabularInline):
    model = PledgeEvent
    extra = 0
    can_delete = False
    readonly_fields = ["at", "actor", "action", "from_status", "to_status", "comment"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Pledge)
class PledgeAdmin(ReadOnlyAdmin):
    list_display = [
        "year",
        "org",
        "owner_org",
        "owner_member",
        "kind",
        "status",
        "progress",
        "due_date",
    ]
    list_filter = ["year", "kind", "status", "progress"]
    search_fields = ["content", "org__name", "org__code", "owner_member__name"]
    raw_id_fields = ["owner_org", "owner_member", "org", "previous"]
    list_select_related = ["org", "owner_org", "owner_member"]
    inlines = [EventInline]


@admin.register(Rectification)
class RectificationAdmin(ReadOnlyAdmin):
    list_display = ["pledge", "org", "deadline", "status"]
    list_filter = ["status"]
    raw_id_fields = ["pledge", "org"]


@admin.register(SecretaryPledge)
class SecretaryPledgeAdmin(ReadOnlyAdmin):
    list_display = ["year", "org", "member", "status"]
    list_filter = ["year", "status"]
    raw_id_fields = ["org", "member"]
