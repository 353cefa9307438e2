"""Compare the kept statistics with a recompute from the raw rows; exits 1 on any difference:
`manage.py stats_check [--period 2026Q3]` (default: every period of the current year)."""

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from orgs import figures
from reports.periods import periods_from_options


class Command(BaseCommand):
    help = "核对保存的统计数与原始记录重算的结果，有差异时以非零状态退出。"

    def add_arguments(self, parser):
        parser.add_argument(
            "--period", action="append", default=[], help="期间，如 2026、2026H1、2026Q3；可重复"
        )
        parser.add_argument("--source", action="append", default=[], help="只核对某类统计数")

    def handle(self, *args, period, source, **options):
        try:
            periods = periods_from_options(period, today=timezone.localdate())
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        found = figures.check(periods, keys=source or None)
        for d in found[:50]:
            self.stdout.write(
                f"{d.key} {d.period} 党组织#{d.org_id} {d.column}：保存 {d.kept}，重算 {d.recomputed}"
            )
        if found:
            more = f"（仅列前50处，共{len(found)}处）" if len(found) > 50 else ""
            raise CommandError(f"统计数与原始记录不一致：{len(found)} 处{more}。", returncode=1)
        self.stdout.write(self.style.SUCCESS("统计数与原始记录一致。"))
