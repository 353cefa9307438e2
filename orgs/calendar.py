"""The campaign calendar: what an office sets for its subtree and a year.

An app declares each setting it owns once (`register_setting`, in its AppConfig.ready or at import
of its rules module): a key, a label, the default for a year, and how the stored JSON value becomes
the app's typed value and back. Reading a setting for an organisation is one query: the row at the
organisation or at its nearest ancestor wins (`orgs.selectors.nearest_above`), else the default.
Writing one is `office_setting_set`, which only a CONFIGURE role over the organisation may call and
which leaves an audit entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.db import transaction

from orgs.access import Action, can
from orgs.models import OfficeSetting, Organization
from orgs.periods import is_campaign_year
from orgs.refusals import refuse
from orgs.selectors import nearest_above
from orgs.services import audit

T = TypeVar("T")


@dataclass(frozen=True)
class SettingKind(Generic[T]):
    key: str
    label: str
    default: Callable[[int], T]  # the value for a year when no office has set one
    load: Callable[[dict], T]  # stored JSON → the app's value
    dump: Callable[[T], dict]  # the app's value → JSON
    # Refuses a value the office may not set for a year (orgs.refusals.refuse, naming the field).
    clean: Callable[[T, int], None] | None = None


@dataclass(frozen=True)
class Resolved(Generic[T]):
    """A setting as it applies to an organisation, and where it comes from."""

    value: T
    set_at: Organization | None  # None: the default
    row: OfficeSetting | None = None


_KINDS: dict[str, SettingKind] = {}


def register_setting(kind: SettingKind) -> SettingKind:
    """Declare a setting an office may make; a key is declared once."""
    known = _KINDS.get(kind.key)
    if known is not None and known is not kind:
        raise ValueError(f"office setting {kind.key!r} is declared twice")
    _KINDS[kind.key] = kind
    return kind


def setting_kind(key: str) -> SettingKind:
    return _KINDS[key]


def setting_for(*, key: str, org: Organization, year: int) -> Resolved:
    """The setting `key` for `org` and `year`: the nearest one set at or above it (one query)."""
    kind = _KINDS[key]
    row = nearest_above(
        OfficeSetting.objects.filter(key=key, year=year).select_related("org"), org=org
    )
    if row is None:
        return Resolved(value=kind.default(year), set_at=None)
    return Resolved(value=kind.load(row.value), set_at=row.org, row=row)


def settings_at(*, org: Organization, year: int) -> dict[str, OfficeSetting]:
    """The settings made at `org` itself for `year`, by key (one query)."""
    return {row.key: row for row in OfficeSetting.objects.filter(org=org, year=year)}


@transaction.atomic
def office_setting_set(*, by, key: str, org: Organization, year: int, value: Any) -> OfficeSetting:
    """Set `key` for `org`'s subtree and `year` (office staff and leaders with CONFIGURE only).

    Checks the actor, the year and the value (the kind's `clean`), stores the value and records
    who set what.
    """
    kind = _KINDS[key]
    if not can(by, Action.CONFIGURE, org):
        refuse(f"只有活动办公室工作人员可以设置{kind.label}。")
    if not is_campaign_year(year):
        refuse("年度有误。", "year")
    if kind.clean is not None:
        kind.clean(value, year)
    stored = kind.dump(value)
    row, created = OfficeSetting.objects.select_for_update().get_or_create(
        org=org, year=year, key=key, defaults={"value": stored, "set_by": by}
    )
    before = None if created else row.value
    if not created:
        row.value, row.set_by = stored, by
        row.save(update_fields=["value", "set_by", "updated_at"])
    audit(
        by=by,
        action="office_setting",
        summary=f"设置{org.name} {year}年{kind.label}",
        org=org,
        changes={"key": key, "year": year, "before": before, "after": stored},
    )
    return row
