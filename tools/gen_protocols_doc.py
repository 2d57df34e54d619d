"""Write docs/protocols.md from the protocol files the detector runs (Korean and English).

uv run python tools/gen_protocols_doc.py           write the page
uv run python tools/gen_protocols_doc.py --check   exit 1 if the committed page is stale
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from pathlib import Path

from anbu_detector.adapters.config_files import load_catalog, load_protocols
from anbu_detector.domain import merging
from anbu_detector.domain.protocols import (
    Deadline,
    LogSpec,
    NotifySpec,
    ProtocolSpec,
    StepSpec,
    TaskSpec,
)

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "protocols.md"

WORDS = {
    "ko": {
        "at_once": "즉시",
        "after": "시작 {d} 후",
        "day": "{n}일차 {t}",
        "when": "조건",
        "approval": "승인 필요",
        "actions": "조치",
        "step": "단계",
        "due": "시점",
        "closes": "종료 조건",
        "outcome": "결과",
        "closure": "종료 사유",
        "task": "업무",
        "notify": "알림",
        "log": "상담내역 기록",
        "deadline": "기한",
        "wd": "{n}근무일",
        "by_date": "신호의 날짜까지",
        "forward": "'못 찾음' 결과 시 앞당김",
        "completes": "이 단계 업무의 결과로 종료",
        "triggers": "시작 조건",
        "reason": "경보 사유",
        "min": "최소 단계",
        "protocol": "절차",
        "one": "가구당 하나의 대응",
        "one_intro": "한 가구에는 위기 대응이 하나만 진행됩니다. 새 경보는 그 대응의 근거가 되고,"
        " 더 강한 절차가 필요하면 대응을 올립니다. 약한 것부터 강한 것 순서:",
        "rule": "규칙",
        "then": "처리",
    },
    "en": {
        "at_once": "at once",
        "after": "{d} after the trigger",
        "day": "day {n}, {t}",
        "when": "condition",
        "approval": "needs approval",
        "actions": "actions",
        "step": "step",
        "due": "due",
        "closes": "Ends on",
        "outcome": "outcome",
        "closure": "closure",
        "task": "task",
        "notify": "notify",
        "log": "consultation-log record",
        "deadline": "deadline",
        "wd": "{n} working days",
        "by_date": "by the signal's date",
        "forward": "brought forward by a 'not found' outcome",
        "completes": "an outcome of this step's task ends the protocol",
        "triggers": "What starts which protocol",
        "reason": "alert reason",
        "min": "minimum severity",
        "protocol": "protocol",
        "one": "One response per household",
        "one_intro": "A household has one crisis response at a time: a new alert becomes "
        "evidence for it, and upgrades it when it calls for a stronger protocol. From the "
        "weakest to the strongest:",
        "rule": "rule",
        "then": "what happens",
    },
}


def duration(value: timedelta, lang: str) -> str:
    hours = value.total_seconds() / 3600
    if hours >= 24 and hours % 24 == 0:
        return f"{int(hours // 24)}일" if lang == "ko" else f"{int(hours // 24)} d"
    if hours >= 1:
        return f"{hours:g}시간" if lang == "ko" else f"{hours:g} h"
    return (
        f"{int(value.total_seconds() // 60)}분"
        if lang == "ko"
        else f"{int(value.total_seconds() // 60)} min"
    )


def due(step: StepSpec, lang: str) -> str:
    w = WORDS[lang]
    if step.offset is not None:
        return (
            w["at_once"]
            if step.offset == timedelta(0)
            else w["after"].format(d=duration(step.offset, lang))
        )
    assert step.day is not None and step.at is not None
    return w["day"].format(n=step.day, t=step.at.strftime("%H:%M"))


def deadline(spec: Deadline, lang: str) -> str:
    w = WORDS[lang]
    base = (
        w["wd"].format(n=spec.working_days)
        if spec.working_days
        else duration(spec.after or timedelta(0), lang)
    )
    return f"{base}, {w['by_date']}" if spec.by_signal_date else base


def action(spec: TaskSpec | NotifySpec | LogSpec, lang: str) -> str:
    w = WORDS[lang]
    when = f" ({w['when']}: {', '.join(c.value for c in spec.when)})" if spec.when else ""
    if isinstance(spec, TaskSpec):
        team = " + ".join(r.value for r in spec.team)
        by = deadline(spec.deadline, lang)
        return f"{w['task']} `{spec.task_type.value}` — {team}; {w['deadline']} {by}{when}"
    if isinstance(spec, NotifySpec):
        how = f"`{spec.template}`, {spec.urgency.value}"
        return f"{w['notify']} → {spec.recipient.value} ({how}){when}"
    return f"{w['log']} `{spec.entry_type}`{when}"


def protocol_section(protocol: ProtocolSpec, lang: str) -> list[str]:
    w = WORDS[lang]
    title = getattr(protocol.title, lang)
    lines = [
        f"### {title} — `{protocol.id}` v{protocol.version}",
        "",
        getattr(protocol.description, lang),
        "",
    ]
    lines += [f"| {w['step']} | {w['due']} | {w['actions']} |", "|---|---|---|"]
    for step in protocol.steps:
        notes = []
        if step.when:
            notes.append(f"{w['when']}: {', '.join(c.value for c in step.when)}")
        if step.requires_approval:
            notes.append(f"{w['approval']}: `{step.requires_approval}`")
        if step.advance_on_not_found:
            notes.append(w["forward"])
        if step.completes_protocol:
            notes.append(w["completes"])
        head = f"**{getattr(step.heading, lang)}** (`{step.id}`)" + (
            f"<br>_{'; '.join(notes)}_" if notes else ""
        )
        acts = "<br>".join(action(a, lang) for a in step.actions)
        lines.append(f"| {head} | {due(step, lang)} | {acts} |")
    lines += [
        "",
        f"{w['closes']}: "
        + ", ".join(
            f"`{outcome.value}` → `{closure.value}`"
            for outcome, closure in protocol.closes_on.items()
        ),
        "",
    ]
    return lines


def merge_section(protocols: dict[str, ProtocolSpec], lang: str) -> list[str]:
    """The merge rules of ``domain/merging.py``: the ladder, then one row a rule."""
    w = WORDS[lang]
    ladder = " → ".join(
        f"{getattr(protocols[p].title, lang)} (`{p}`)" if p in protocols else f"`{p}`"
        for p in merging.LADDER
    )
    lines = [f"#### {w['one']}", "", w["one_intro"], "", ladder, ""]
    lines += [f"| {w['rule']} | {w['when']} | {w['then']} |", "|---|---|---|"]
    for rule in merging.RULES:
        when, effect = getattr(rule.when, lang), getattr(rule.effect, lang)
        lines.append(f"| `{rule.name}` | {when} | {effect} |")
    return [*lines, ""]


def render() -> str:
    protocols = load_protocols()
    catalog = load_catalog()
    lines = [
        "# 대응 절차 / Response protocols",
        "",
        "<!-- Generated by tools/gen_protocols_doc.py from services/detector/src/anbu_detector/"
        "config/protocols/*.yaml — the same files the detector runs. Do not edit by hand. -->",
        "",
        f"Rules version `{catalog.default.version}`. Times are local to the household "
        "(Asia/Seoul by default); working days skip weekends and Korean public holidays.",
        "",
    ]
    for lang, heading in (("ko", "## 한국어"), ("en", "## English")):
        w = WORDS[lang]
        lines += [
            heading,
            "",
            f"#### {w['triggers']}",
            "",
            f"| {w['reason']} | {w['min']} | {w['protocol']} |",
            "|---|---|---|",
        ]
        for trigger in catalog.default.protocols:
            least = trigger.min_severity.value if trigger.min_severity else "—"
            lines.append(f"| `{trigger.reason.value}` | {least} | `{trigger.protocol_id}` |")
        lines.append("")
        lines += merge_section(protocols, lang)
        for protocol in protocols.values():
            lines += protocol_section(protocol, lang)
    return "\n".join(lines).rstrip() + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    text = render()
    if args.check:
        if not OUT.exists() or OUT.read_text(encoding="utf-8") != text:
            sys.stderr.write("docs/protocols.md is stale: run `make schemas`\n")
            return 1
        return 0
    OUT.write_text(text, encoding="utf-8")
    sys.stdout.write(f"wrote {OUT.relative_to(ROOT)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
