from django.core.management.base import BaseCommand, CommandError

from orgs import roster
from orgs.models import Organization


class Command(BaseCommand):
    help = "把一个组织及其全部下级组织导出为花名册（.xlsx）。"

    def add_arguments(self, parser):
        parser.add_argument("code", help="组织代码")
        parser.add_argument("file", help="输出文件")

    def handle(self, *args, code, file, **options):
        org = Organization.objects.filter(code=code).first()
        if org is None:
            raise CommandError(f"没有组织代码“{code}”。")
        with open(file, "wb") as stream:
            roster.write_export(root=org, stream=stream)
        self.stdout.write(self.style.SUCCESS(f"已导出到 {file}。"))
