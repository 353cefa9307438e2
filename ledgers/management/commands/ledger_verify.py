"""manage.py ledger_verify: recompute every signed snapshot's SHA-256 and each ledger's chain
(ledgers.chain.verify) and report the ledgers that do not match, with a non-zero exit.

One ledger (--ledger), the ledgers kept in a subtree (--org, by code or id), or all of them.
The ledgers are streamed in chunks, each chunk's signatures read in one query, so memory stays
flat however many there are."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Prefetch

from ledgers import chain, selectors
from ledgers.models import Signature
from orgs.models import Organization

CHUNK = 500


def _org(value: str) -> Organization:
    """An organisation by its code, else by its id."""
    value = value.strip()
    org = Organization.objects.filter(code=value).first()
    if org is None and value.isascii() and value.isdigit():
        org = Organization.objects.filter(pk=int(value)).first()
    if org is None:
        raise CommandError(f"没有代码或编号为“{value}”的党组织。")
    return org


class Command(BaseCommand):
    help = "重新计算写实簿每次签字的内容摘要和签字链，报告不一致的写实簿（有则以非零状态退出）。"

    def add_arguments(self, parser):
        parser.add_argument("--ledger", type=int, help="只检查这一本写实簿（编号）")
        parser.add_argument("--org", help="只检查这个党组织（代码或编号）及其下级保管的写实簿")
        parser.add_argument("--chunk", type=int, default=CHUNK, help="每批读取的写实簿本数")

    def handle(self, *args, ledger=None, org=None, chunk=CHUNK, **options):
        scope = _org(org) if org else None
        ledgers = selectors.ledgers_in(org=scope, ledger_id=ledger)
        if ledger is not None and not ledgers.exists():
            raise CommandError(
                f"没有编号为{ledger}的写实簿" + ("（在该党组织下）。" if scope else "。")
            )
        rows = ledgers.select_related("member", "subject_org").prefetch_related(
            Prefetch("signatures", queryset=Signature.objects.order_by("seq"))
        )
        checked = signatures = 0
        broken = []
        for row in rows.iterator(chunk_size=max(chunk, 1)):
            verdict = chain.verify(row, row.signatures.all())
            checked += 1
            signatures += verdict.checked
            if not verdict.ok:
                broken.append(row.pk)
                self.stdout.write(f"写实簿{row.pk}（{row}）签字不一致：")
                for problem in verdict.problems:
                    self.stdout.write(f"  {problem}")
        summary = f"检查写实簿{checked}本，签字{signatures}次，不一致{len(broken)}本"
        if broken:
            self.stdout.write(self.style.ERROR(summary))
            shown = "、".join(str(pk) for pk in broken[:20]) + ("等" if len(broken) > 20 else "")
            raise CommandError(f"写实簿签字不一致：{shown}。", returncode=1)
        self.stdout.write(self.style.SUCCESS(summary))
