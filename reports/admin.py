"""The 报送 rows for the provincial office, read-only: a submission, its attachments and its
return are written once by reports/submissions.py and never changed."""

from django.contrib import admin

from orgs.admin_base import ReadOnlyAdmin
from reports.models import Submission, SubmissionAttachment, SubmissionReturn


@admin.register(Submission)
class SubmissionAdmin(ReadOnlyAdmin):
    list_display = [
        "org",
        "period",
        "version",
        "due_date",
        "is_late",
        "submitted_by",
        "submitted_at",
    ]
    list_filter = ["period", "is_late"]
    search_fields = ["org__name", "org__code"]
    raw_id_fields = ["org", "submitted_by"]
    exclude = ["figures"]  # hundreds of numbers: read them on the submission's page
    readonly_fields = ["digest"]


@admin.register(SubmissionAttachment)
class SubmissionAttachmentAdmin(ReadOnlyAdmin):
    list_display = ["name", "submission", "size"]
    search_fields = ["name", "submission__org__name"]
    raw_id_fields = ["submission"]


@admin.register(SubmissionReturn)
class SubmissionReturnAdmin(ReadOnlyAdmin):
    list_display = ["submission", "returned_by", "returned_at", "reason"]
    search_fields = ["submission__org__name", "reason"]
    raw_id_fields = ["submission", "returned_by"]
