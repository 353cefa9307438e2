"""The tamper evidence of a signed ledger: each signature stores the canonical text of exactly what
was signed (`payload`), its SHA-256 (`content_hash`) and a chain hash over the previous
signature's chain hash and its own content hash, so that changing, removing or reordering any
signature breaks every later link. `verify` recomputes all of it from the stored rows."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field


def canonical(payload: dict) -> str:
    """One text for one content: sorted keys, no spaces, characters as themselves."""
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def link(prev_hash: str, content_hash: str) -> str:
    return sha256(f"{prev_hash}:{content_hash}")


@dataclass
class Verdict:
    """What `verify` found for one ledger."""

    ledger_id: int
    checked: int = 0
    problems: list[str] = field(default_factory=list)
    head: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(ledger, signatures) -> Verdict:
    """Recompute every signature's content hash and the chain, in order; compare the ledger's
    stored head. `signatures`: all of the ledger's signatures, withdrawn ones too."""
    verdict = Verdict(ledger_id=ledger.pk)
    prev = ""
    for expected_seq, signature in enumerate(sorted(signatures, key=lambda s: s.seq), start=1):
        verdict.checked += 1
        name = f"第{signature.seq}次签字（{signature.signer_name}，{signature.signed_on}）"
        if signature.seq != expected_seq:
            verdict.problems.append(f"{name}：序号不连续，应为第{expected_seq}次")
        content = sha256(signature.payload)
        if content != signature.content_hash:
            verdict.problems.append(f"{name}：签字内容与其摘要不符，内容已被改动")
        try:
            payload = json.loads(signature.payload)
        except ValueError:
            payload = None
            verdict.problems.append(f"{name}：签字内容无法读取")
        if payload is not None and (
            payload.get("section") != signature.section
            or payload.get("slot") != signature.slot
            or payload.get("signer") != signature.signer_name
            or payload.get("signed_on") != signature.signed_on.isoformat()
            or payload.get("ledger") != ledger.pk
            or payload.get("capacity") != signature.capacity
            or payload.get("on_paper") != signature.on_paper
            or payload.get("recorded_by") != signature.recorded_by_name
            or payload.get("org_id") != signature.org_id
            or payload.get("signer_id") != signature.signer_id
        ):
            verdict.problems.append(f"{name}：签字记录与签字内容不符")
        if signature.prev_hash != prev:
            verdict.problems.append(f"{name}：与上一次签字的链接不符")
        expected = link(prev, content)
        if signature.chain_hash != expected:
            verdict.problems.append(f"{name}：签字链摘要不符")
        prev = signature.chain_hash
    verdict.head = prev
    _check_order(ledger, signatures, verdict)
    if ledger.head != prev:
        verdict.problems.append("写实簿记录的签字链末端与签字记录不符")
    if ledger.signature_count != verdict.checked:
        verdict.problems.append(
            f"写实簿记录签字{ledger.signature_count}次，实有签字记录{verdict.checked}条"
        )
    return verdict


def _check_order(ledger, signatures, verdict: Verdict) -> None:
    """A live upper signature stands on a live lower one of its section (a withdrawal takes the
    upper ones with it)."""
    from ledgers.sections import section_spec

    live = {(s.section, s.slot) for s in signatures if s.withdrawn_at is None}
    for section, slot in sorted(live):
        try:
            slots = section_spec(ledger.kind, section).slots
        except KeyError:
            verdict.problems.append(f"签字栏目“{section}”不存在")
            continue
        if slot not in slots:
            verdict.problems.append(f"签字栏目“{section}”没有“{slot}”一栏")
            continue
        for lower in slots[: slots.index(slot)]:
            if (section, lower) not in live:
                verdict.problems.append(f"“{section}”的上一级签字仍在，下一级签字却已撤回或不存在")
