"""Recompute the kept statistics from the raw rows: `manage.py stats_rebuild [--period 2026Q3]`
(a year, half-year or quarter; several allowed; default: every period of the current year)."""

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from orgs import figures
from reports.periods import periods_from_options


class Command(BaseCommand):
    help = "从原始记录重新计算统计数（全部党组织）。"

    def add_arguments(self, parser):
        parser.add_argument(
            "--period", action="append", default=[], help="期间，如 2026、2026H1、2026Q3；可重复"
        )
        parser.add_argument("--source", action="append", default=[], help="只算某类统计数")

    def handle(self, *args, period, source, **options):
        try:
            periods = periods_from_options(period, today=timezone.localdate())
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        written = figures.rebuild(periods, keys=source or None, log=self.stdout.write)
        total = sum(written.values())
        self.stdout.write(self.style.SUCCESS(f"统计数已重算：{total} 行。"))
