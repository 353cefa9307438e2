"""Read-only views of the pledge records for the provincial office; changes go through the pages."""

from django.contrib import admin

from pledges.models import Pledge, PledgeEvent, PledgeWindow, Rectification, SecretaryPledge


class ReadOnly(admin.ModelAdmin):
    show_full_result_count = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class EventInline(admin.TabularInline):
    model = PledgeEvent
    extra = 0
    can_delete = False
    readonly_fields = ["at", "actor", "action", "from_status", "to_status", "comment"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Pledge)
class PledgeAdmin(ReadOnly):
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
class RectificationAdmin(ReadOnly):
    list_display = ["pledge", "org", "deadline", "status"]
    list_filter = ["status"]
    raw_id_fields = ["pledge", "org"]


@admin.register(SecretaryPledge)
class SecretaryPledgeAdmin(ReadOnly):
    list_display = ["year", "org", "member", "status"]
    list_filter = ["year", "status"]
    raw_id_fields = ["org", "member"]


@admin.register(PledgeWindow)
class PledgeWindowAdmin(ReadOnly):
    list_display = ["year", "org", "start", "end"]
