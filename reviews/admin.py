"""Read-only views of review and appraisal records for the provincial office; changes go through
the pages. Slips and ballots are not shown: a session's counts are on its results page."""

from django.contrib import admin

from orgs.admin_base import ReadOnlyAdmin
from reviews.models import Appraisal, AppraisalEvent, AppraisalSubject, LeaderReview


@admin.register(LeaderReview)
class LeaderReviewAdmin(ReadOnlyAdmin):
    list_display = [
        "year",
        "period_kind",
        "period",
        "subject_kind",
        "org",
        "reviewer_name",
        "status",
    ]
    list_filter = ["status", "subject_kind", "period_kind", "year"]
    search_fields = ["org__name", "org__code", "reviewer_name", "subject_member__name"]
    list_select_related = ["org"]
    raw_id_fields = ["org", "subject_org", "subject_member", "reviewer", "reviewer_org", "previous"]


class SubjectInline(admin.TabularInline):
    model = AppraisalSubject
    extra = 0
    can_delete = False
    # no counts: they are the running secretary's until published, and small groups' always
    fields = ["position", "name", "suggested_grade", "final_grade", "override_reason"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


class AppraisalEventInline(admin.TabularInline):
    model = AppraisalEvent
    extra = 0
    can_delete = False
    readonly_fields = ["at", "actor", "action", "comment"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Appraisal)
class AppraisalAdmin(ReadOnlyAdmin):
    list_display = ["year", "kind", "org", "state", "held_on", "closed_at", "published_at"]
    list_filter = ["state", "kind", "year"]
    search_fields = ["org__name", "org__code", "public_id"]
    list_select_related = ["org"]
    exclude = ["slip_salt", "tally"]
    raw_id_fields = ["org", "created_by"]
    inlines = [SubjectInline, AppraisalEventInline]
