"""Counting a session: code ballots plus the confirmed paper counts, by subject and group.

The tally is a plain dict (it is frozen as JSON on the session at closing):

- `subjects`: per subject in position order, `total` and, per group, `groups[g]`, each
  [grade 1, grade 2, grade 3, grade 4, blank];
- `ballots`: the sheets counted (code ballots, valid and blank paper sheets); `blank_ballots` the
  wholly blank ones among them; `spoiled` the paper sheets set aside;
- `participants`: per group, everyone who handed in a sheet (spoiled ones too), and
  `party_participants` / `mass_participants` for the 写实簿;
- `invariants`: each check with whether it holds.

`digest` is SHA-256 over the records counted and the tally, in a canonical order.
"""

from __future__ import annotations

import hashlib
import json

from reviews.appraisal.models import (
    PARTY_GROUPS,
    Appraisal,
    AppraisalSubject,
    Ballot,
    Group,
    PaperCount,
    Slip,
)

BLANK = 4  # index of the blank count in a row of five


def _records(appraisal: Appraisal) -> dict:
    subjects = list(
        AppraisalSubject.objects.filter(appraisal=appraisal)
        .order_by("position")
        .values_list("position", "name", "member_id", "subject_org_id")
    )
    ballots = sorted(
        (str(pk), group, marks)
        for pk, group, marks in Ballot.objects.filter(appraisal=appraisal).values_list(
            "pk", "group", "marks"
        )
    )
    paper = [
        {"group": p.group, **p.figures()}
        for p in PaperCount.objects.filter(appraisal=appraisal).order_by("group")
    ]
    slips = Slip.objects.filter(appraisal=appraisal)
    return {
        "subjects": subjects,
        "ballots": ballots,
        "paper": paper,
        "slips_issued": slips.filter(voided=False).count(),
        "slips_used": slips.filter(used=True).count(),
    }


def count(appraisal: Appraisal, records: dict | None = None) -> dict:
    records = records if records is not None else _records(appraisal)
    subjects = records["subjects"]
    groups = [str(g) for g in appraisal.groups]
    n = len(subjects)
    by_group = {g: [[0] * 5 for _ in range(n)] for g in groups}
    participants = dict.fromkeys(groups, 0)
    blank_ballots = 0
    malformed = 0
    for _, group, marks in records["ballots"]:
        rows = by_group.setdefault(group, [[0] * 5 for _ in range(n)])
        participants[group] = participants.get(group, 0) + 1
        if len(marks) != n or any(ch not in "01234" for ch in marks):
            malformed += 1
            continue
        if marks.strip("0") == "":
            blank_ballots += 1
        for i, ch in enumerate(marks):
            rows[i][int(ch) - 1 if ch != "0" else BLANK] += 1
    spoiled = 0
    paper_sheets = 0
    paper_checks = []
    for p in records["paper"]:
        rows = by_group.setdefault(p["group"], [[0] * 5 for _ in range(n)])
        valid = p["sheets_returned"] - p["blank_sheets"] - p["spoiled_sheets"]
        participants[p["group"]] = participants.get(p["group"], 0) + p["sheets_returned"]
        spoiled += p["spoiled_sheets"]
        blank_ballots += p["blank_sheets"]
        paper_sheets += valid + p["blank_sheets"]
        for i in range(n):
            cells = p["counts"][i] if i < len(p["counts"]) else [0] * 5
            for j in range(5):
                rows[i][j] += cells[j]
            rows[i][BLANK] += p["blank_sheets"]
        paper_checks.append(
            (p["group"], p["sheets_returned"] <= p["sheets_issued"] and valid >= 0, p)
        )
    code_ballots = len(records["ballots"])
    ballots = code_ballots + paper_sheets
    result_subjects = []
    for i, (position, name, _, _) in enumerate(subjects):
        total = [sum(by_group[g][i][j] for g in by_group) for j in range(5)]
        result_subjects.append(
            {
                "position": position,
                "name": name,
                "total": total,
                "groups": {g: by_group[g][i] for g in by_group},
            }
        )
    labels = dict(Group.choices)
    invariants = [
        {
            "label": "每个评议对象：各档次票数加弃权票等于计票的评议表数",
            "ok": all(sum(s["total"]) == ballots for s in result_subjects),
            "detail": f"计票评议表 {ballots} 张",
        },
        {
            "label": "扫码投票数不超过发出的选票码数",
            "ok": code_ballots <= records["slips_issued"],
            "detail": f"扫码投票 {code_ballots} 张，发出选票码 {records['slips_issued']} 张",
        },
        {
            "label": "已使用的选票码数等于扫码投票数",
            "ok": records["slips_used"] == code_ballots,
            "detail": f"已使用选票码 {records['slips_used']} 张，扫码投票 {code_ballots} 张",
        },
        {
            "label": "扫码评议表格式完整",
            "ok": malformed == 0,
            "detail": f"格式不符 {malformed} 张",
        },
    ] + [
        {
            "label": f"纸质评议表（{labels.get(group, group)}）：收回不超过发出",
            "ok": ok,
            "detail": f"发出 {p['sheets_issued']} 张，收回 {p['sheets_returned']} 张",
        }
        for group, ok, p in paper_checks
    ]
    return {
        "subjects": result_subjects,
        "ballots": ballots,
        "code_ballots": code_ballots,
        "paper_sheets": paper_sheets,
        "blank_ballots": blank_ballots,
        "spoiled": spoiled,
        "slips_issued": records["slips_issued"],
        "slips_used": records["slips_used"],
        "participants": participants,
        "party_participants": sum(v for g, v in participants.items() if g in PARTY_GROUPS),
        "mass_participants": sum(v for g, v in participants.items() if g not in PARTY_GROUPS),
        "invariants": invariants,
        "ok": all(i["ok"] for i in invariants),
    }


def digest(appraisal: Appraisal, records: dict, tally: dict) -> str:
    payload = {
        "appraisal": appraisal.public_id,
        "kind": appraisal.kind,
        "records": records,
        "tally": tally,
    }
    text = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def count_and_digest(appraisal: Appraisal) -> tuple[dict, str]:
    records = _records(appraisal)
    tally = count(appraisal, records)
    # JSON round trip: the digest is over exactly what is stored
    records = json.loads(json.dumps(records))
    return tally, digest(appraisal, records, json.loads(json.dumps(tally)))


def verify(appraisal: Appraisal) -> dict:
    """Recount a closed session and compare with what was frozen at closing."""
    tally, recomputed = count_and_digest(appraisal)
    frozen = appraisal.tally or {}
    return {
        "tally_matches": json.loads(json.dumps(tally)) == frozen,
        "digest_matches": bool(appraisal.digest) and recomputed == appraisal.digest,
        "stored_digest": appraisal.digest,
        "recomputed_digest": recomputed,
        "tally": tally,
    }
