import time

from django.core.management.base import BaseCommand, CommandError

from orgs import demo
from orgs.models import Organization


class Command(BaseCommand):
    help = (
        "建立演示用的虚构省份（江岳省）：组织、党员、各角色的演示账号，以及承诺、点评、评议、"
        "写实簿等记录和统计数。"
    )

    def add_arguments(self, parser):
        parser.add_argument("--scale", choices=sorted(demo.SCALES), default="small")
        parser.add_argument("--seed", type=int, default=2026)
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="数据库中已有组织时什么也不做（供 make run 使用）",
        )

    def handle(self, *args, scale, seed, if_empty, **options):
        if Organization.objects.exists():
            if if_empty:
                self.stdout.write("数据库中已有数据，跳过演示数据。")
                self.stdout.write(demo.demo_logins_text(demo.existing_demo_users()))
                return
            raise CommandError("数据库中已有组织数据；演示数据只能写入空数据库。")
        started = time.monotonic()
        result = demo.seed(scale=scale, seed=seed, log=self.stdout.write)
        elapsed = time.monotonic() - started
        self.stdout.write(
            self.style.SUCCESS(
                f"已建立演示省份：组织 {result['orgs']} 个，党员 {result['members']} 名，"
                f"公开承诺 {result.get('pledges', 0)} 项，领导点评 {result.get('reviews', 0)} 份，"
                f"民主评议 {result.get('appraisals', 0)} 次，写实簿 {result.get('ledgers', 0)} 本，"
                f"统计数 {result.get('figures', 0)} 行，用时 {elapsed:.1f} 秒。"
            )
        )
        self.stdout.write(demo.demo_logins_text(result["users"]))
