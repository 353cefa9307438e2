import datetime

from django.core.management.base import BaseCommand, CommandError

from orgs import reminders
from orgs.periods import YEAR_MAX, YEAR_MIN


def parse_day(value: str) -> datetime.date:
    try:
        day = datetime.datetime.strptime(value.strip(), "%Y-%m-%d").date()
    except ValueError:
        raise CommandError(
            f"--today 的日期“{value}”有误，请写成 YYYY-MM-DD，如 2026-03-31。"
        ) from None
    if not YEAR_MIN <= day.year <= YEAR_MAX:
        raise CommandError(f"--today 的年份须在 {YEAR_MIN} 至 {YEAR_MAX} 年之间。")
    return day


class Command(BaseCommand):
    help = (
        "扫描到期提醒：把今天（北京时间）到了提醒时间、尚未完成的工作写入站内通知，再发送邮件摘要。"
        "重复运行不会重复提醒。"
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--today", metavar="YYYY-MM-DD", help="按这一天扫描（默认今天，北京时间）"
        )
        parser.add_argument("--no-send", action="store_true", help="只写入提醒，不发送邮件")

    def handle(self, *args, today=None, no_send=False, **options):
        day = parse_day(today) if today is not None else None
        swept = reminders.sweep(today=day)
        self.stdout.write(
            f"提醒扫描（{swept.today:%Y-%m-%d}）：到了提醒时间的截止事项 {len(swept.deadlines)} 项，"
            f"未完成 {swept.gaps} 处；新提醒 {swept.created} 条"
            f"（已提醒过的 {swept.queued - swept.created} 条不再重复）。"
        )
        if not no_send:
            sent = reminders.send_due()
            self.stdout.write(
                f"邮件：发出 {sent.messages} 封（含提醒 {sent.sent} 条）；"
                f"无邮箱或不接收邮件 {sent.skipped} 条，已办结不再发送 {sent.cancelled} 条，"
                f"发送失败待重试 {sent.failed} 条。"
            )
        if swept.failed:
            raise CommandError(
                "以下截止事项扫描出错，其余已完成（详见日志）：" + "、".join(swept.failed)
            )
        self.stdout.write(self.style.SUCCESS("完成。"))
