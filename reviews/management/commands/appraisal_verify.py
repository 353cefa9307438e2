"""Recount a closed democratic appraisal and check it against the tally and digest frozen at
closing: `manage.py appraisal_verify <评议编号或投票链接编号>` (or `--all`). Exits 1 on any
mismatch."""

from django.core.management.base import BaseCommand, CommandError

from reviews.appraisal import tally
from reviews.appraisal.models import Appraisal


class Command(BaseCommand):
    help = "重新计票并核对民主评议结束时保存的计票结果和摘要。"

    def add_arguments(self, parser):
        parser.add_argument("appraisal", nargs="*", help="评议编号（数字）或投票链接编号")
        parser.add_argument("--all", action="store_true", help="核对所有已结束的评议")

    def handle(self, *args, **options):
        found = Appraisal.objects.counted().select_related("org")
        if options["all"]:
            appraisals = list(found.order_by("pk"))
        elif options["appraisal"]:
            appraisals = []
            for ref in options["appraisal"]:
                digits = ref.isascii() and ref.isdigit() and len(ref) <= 18
                lookup = {"pk": int(ref)} if digits else {"public_id": ref.lower()}
                appraisal = Appraisal.objects.select_related("org").filter(**lookup).first()
                if appraisal is None:
                    raise CommandError(f"没有找到评议 {ref}。")
                if not appraisal.is_counted:
                    raise CommandError(f"评议 {ref} 尚未结束，没有可核对的计票结果。")
                appraisals.append(appraisal)
        else:
            raise CommandError("请给出评议编号，或使用 --all。")
        failed = 0
        for appraisal in appraisals:
            result = tally.verify(appraisal)
            ok = result["tally_matches"] and result["digest_matches"]
            failed += not ok
            t = result["tally"]
            self.stdout.write(
                f"评议 {appraisal.pk}（{appraisal}）：重新计票 {t['ballots']} 张，"
                f"计票结果{'一致' if result['tally_matches'] else '不一致'}，"
                f"摘要{'一致' if result['digest_matches'] else '不一致'}"
            )
            self.stdout.write(f"  保存的摘要 {result['stored_digest']}")
            self.stdout.write(f"  重算的摘要 {result['recomputed_digest']}")
            for check in t["invariants"]:
                mark = "✔" if check["ok"] else "✘"
                self.stdout.write(f"  {mark} {check['label']}（{check['detail']}）")
        if failed:
            raise CommandError(f"{failed} 个评议核对不一致。")
        self.stdout.write(self.style.SUCCESS(f"核对完成：{len(appraisals)} 个评议全部一致。"))
