from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from orgs import roster
from orgs.access import Action, orgs_for


class Command(BaseCommand):
    help = (
        "导入花名册（.xlsx，含“组织”“党员”两张表）。全部检查通过才写入，任何错误都不写入。"
        "不限行数（页面导入有行数上限）。"
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument(
            "--user", help="以该用户的权限导入（只能导入其担任书记的组织范围）；不给则不限范围"
        )
        parser.add_argument(
            "--root", help="限定导入范围的组织代码（与 --user 一起使用时须在其范围内）"
        )

    def handle(self, *args, file, user, root, **options):
        by, scope = None, None
        if user:
            by = get_user_model().objects.filter(username=user).first()
            if by is None:
                raise CommandError(f"没有用户“{user}”。")
            managed = orgs_for(by, Action.MANAGE)
            scope = managed.filter(code=root).first() if root else managed.order_by("level").first()
            if scope is None:
                raise CommandError("该用户没有可以导入的组织范围。")
        elif root:
            from orgs.models import Organization

            scope = Organization.objects.filter(code=root).first()
            if scope is None:
                raise CommandError(f"没有组织代码“{root}”。")
        try:
            with open(file, "rb") as stream:
                result = roster.import_roster(
                    stream, by=by, root=scope, limits=roster.COMMAND_LIMITS
                )
        except FileNotFoundError as exc:
            raise CommandError(f"找不到文件 {file}。") from exc
        except roster.RosterImportError as failure:
            for error in failure.errors:
                self.stderr.write(str(error))
            raise CommandError(f"导入未执行：发现 {len(failure.errors)} 处错误。") from None
        self.stdout.write(self.style.SUCCESS(f"导入完成。{result.summary()}"))
