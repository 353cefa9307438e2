from django.contrib import admin

from ledgers.models import Ledger, LedgerEvent, Signature
from orgs.admin_base import ReadOnlyAdmin


@admin.register(Ledger)
class LedgerAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "year", "member", "subject_org", "keeper", "signature_count"]
    list_filter = ["kind", "year"]
    search_fields = ["member__name", "subject_org__name", "subject_org__code"]
    raw_id_fields = ["member", "subject_org", "keeper"]


@admin.register(Signature)
class SignatureAdmin(ReadOnlyAdmin):
    list_display = ["ledger", "seq", "section", "slot", "signer_name", "signed_on", "withdrawn_at"]
    list_filter = ["section", "slot", "on_paper"]
    search_fields = ["signer_name", "ledger__member__name", "ledger__subject_org__name"]
    raw_id_fields = ["ledger", "org", "signer", "recorded_by", "withdrawn_by"]


@admin.register(LedgerEvent)
class LedgerEventAdmin(ReadOnlyAdmin):
    list_display = ["ledger", "at", "actor_name", "action", "section", "slot"]
    list_filter = ["action"]
    raw_id_fields = ["ledger", "actor"]
