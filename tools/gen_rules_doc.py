"""Write docs/rules.md from the detection rules the detector runs (Korean and English).

uv run python tools/gen_rules_doc.py           write the page
uv run python tools/gen_rules_doc.py --check   exit 1 if the committed page is stale
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from anbu_detector.adapters.config_files import load_catalog
from anbu_detector.domain.rules import RhythmRule, RuleSet

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "rules.md"

WORDS: dict[str, dict[str, str]] = {
    "ko": {
        "windows": "채널별 무활동 기준",
        "channel": "채널",
        "window": "기준 시간",
        "hours": "{h}시간",
        "quiet": (
            "야간 조용한 시간 기본값 {start}–{end} (가구별 설정이 있으면 그 설정): "
            "이 시간 안에 끝나는 기준은 조용한 시간이 끝날 때까지 늘어납니다."
        ),
        "recovery": "모든 채널에 다시 활동이 보이면 무활동 경보는 해제됩니다.",
        "no_recovery": "활동이 다시 보여도 무활동 경보는 자동 해제되지 않습니다.",
        "rhythm": (
            "학습된 생활 리듬 (`absence.rhythm`): 가구마다 채널별로 한 주(요일·시간대)의 "
            "활동 확률을 지난 기록에서 배웁니다(기록이 없으면 기본값을 {prior}주 분량의 기록으로 "
            "셈). 조용함이 그 가구에게 얼마나 드문지(놀람 점수, nats)가 {t} 이상이면 그 채널을 "
            "조용한 것으로 봅니다. 마지막 활동 뒤 {lo}시간이 지나기 전에는 판단하지 않고, "
            "{hi}시간 동안 아무 활동이 없으면 언제나 경보합니다(절대 기준). 스스로 끝난 장애가 "
            "잦은 채널은 조용함의 무게가 줄어듭니다(한 달 장애 한 번마다 절반, 계수 {ow}). "
            "모든 채널이 조용하고 점수가 {p} 미만이면 먼저 자동 확인(AI 안부전화·문자, 단계 "
            "`{sev}`), {p} 이상이거나 절대 기준에 닿으면 곧바로 사람이 갑니다. 학습된 리듬이 "
            "없는 가구에는 위의 고정 기준 시간이 적용됩니다."
        ),
        "offline": (
            " 통신사·IoT 사업자가 단말이 꺼졌다거나 연결이 끊겼다고 알린 채널(`device_status`)은 "
            "조용한 것이 아니라 보이지 않는 것으로 봅니다: 그 채널의 조용함은 절대 기준에서만 "
            "셈하고, 다른 채널이 모두 조용하면 그 채널들의 점수로 곧바로 경보합니다. 다시 연결되면 "
            "그 때부터 셉니다."
        ),
        "no_rhythm": (
            "학습된 생활 리듬(`absence.rhythm`)은 꺼져 있습니다: 위의 고정 기준만 적용됩니다."
        ),
        "rules": "규칙과 경보 단계",
        "rule": "규칙",
        "condition": "조건",
        "severity": "단계",
        "one_silent": "등록된 채널 중 하나가 기준 시간 동안 조용하고 다른 채널은 활동",
        "all_silent": "등록된 모든 채널이 기준 시간 동안 조용함 (안전 미확인)",
        "unanswered": "안부전화 {n}회 연속 미응답·연결 불가",
        "concern": "안부전화 응답: `{c}`",
        "arrears": "`{types}` 중 하나가 {n}개월 이상 체납",
        "recheck": "방문·전화로 이상 없음이 확인된 체납은 {n}개월 이상 늘어야 다시 경보",
        "double_check": "{days}일 안에 서로 다른 체납 {n}종 이상 (이중 확인)",
        "cut": "`{u}` 단전·단공급",
        "cut_winter": "`{u}` 단전·단공급, 겨울철({months}월)",
        "other_cut": "그 밖의 공급 중단",
        "pending": "공급 중단 예고",
        "usage_drop": "최근 {w}일 사용량이 {b}일 기준보다 {r}% 이상 감소",
        "report": "주민 제보",
        "report_critical": "주민 제보: `{cats}`",
        "report_urgency": "주민 제보, 긴급도 `{u}`",
        "sos": "SOS 버튼",
        "blind_spot": "복지 사각지대 발굴 조사",
        "hospital": "퇴원 통보",
        "hospital_stay": (
            "협력병원 입원 통보: 퇴원 예정일 {h}시까지 부재 감시와 안부전화·우편 등 신호를 쉼 "
            "(예정일이 없으면 {d}일; 긴급호출·제보는 계속 들음)"
        ),
        "no_alert": "경보 없음",
        "mail": "우편물 {n}일 이상 미수거",
        "water_no_flow": "수도 원격검침: {h}시간 이상 물 사용 없음",
        "water_drop": "수도 원격검침: 하루 사용량이 가구 평소 사용량보다 {r}% 이상 감소",
        "programmes": "사업별 조정",
        "programme": "사업",
        "setting": "설정",
        "value": "값",
        "none": "(없음)",
    },
    "en": {
        "windows": "Inactivity windows per channel",
        "channel": "channel",
        "window": "window",
        "hours": "{h} h",
        "quiet": (
            "Quiet hours by default {start}–{end} (a household's own, from the registry, apply "
            "instead): a window that would end inside them is extended to their end."
        ),
        "recovery": "Activity on every channel again resolves the absence alerts.",
        "no_recovery": "Activity again does not resolve absence alerts by itself.",
        "rhythm": (
            "Learned rhythms (`absence.rhythm`): for each household and channel, the chance of "
            "activity in each hour of its week is learned from its history (with none, a default "
            "counted as {prior} weeks of history). A channel is silent once its silence is this "
            "unusual for that household: a surprise of {t} nats or more. Never before {lo} h "
            "after the last activity, and always at {hi} h without any activity (the absolute "
            "floor). A channel whose outages often end by themselves weighs less (each such "
            "outage in a month halves it, factor {ow}). Every channel silent with a score below "
            "{p}: an automated check first (AI safety call or text, severity `{sev}`); at {p} "
            "or more, or at the floor, a person at once. Households without a learned rhythm "
            "keep the fixed windows above."
        ),
        "offline": (
            " A channel whose device a carrier or vendor reports offline (`device_status`: "
            "switched off, no connection) is blind, not silent: its silence counts only at the "
            "floor, and a household silent on every other channel still alerts at once, scored "
            "on those channels. Back online, its silence counts from the return."
        ),
        "no_rhythm": "Learned rhythms (`absence.rhythm`) are off: only the fixed windows apply.",
        "rules": "Rules and severities",
        "rule": "rule",
        "condition": "condition",
        "severity": "severity",
        "one_silent": "one enrolled channel silent for its window while another is active",
        "all_silent": "every enrolled channel silent for its window (safety not confirmed)",
        "unanswered": "{n} consecutive safety calls unanswered or unreachable",
        "concern": "safety-call answer: `{c}`",
        "arrears": "any of `{types}` {n} months or more overdue",
        "recheck": (
            "a debt a person found the household well with alerts again only once {n} "
            "months worse (a debt paid down starts afresh)"
        ),
        "double_check": "{n} or more distinct arrears types within {days} days (double check)",
        "cut": "`{u}` cut off",
        "cut_winter": "`{u}` cut off in winter (months {months})",
        "other_cut": "any other supply cut off",
        "pending": "a cut-off announced",
        "usage_drop": "use over the last {w} days {r}% or more below the {b}-day baseline",
        "report": "a human report",
        "report_critical": "a human report: `{cats}`",
        "report_urgency": "a human report of urgency `{u}`",
        "sos": "SOS button",
        "blind_spot": "blind-spot survey round",
        "hospital": "hospital discharge notice",
        "hospital_stay": (
            "a partner hospital's admission notice: the absence watch and other signals rest "
            "until {h}:00 on the planned discharge day ({d} days if none is planned); SOS and "
            "reports are still heard"
        ),
        "no_alert": "no alert",
        "mail": "mail uncollected for {n} days or more",
        "water_no_flow": "smart water meter: no flow for {h} hours or more",
        "water_drop": (
            "smart water meter: the last day's use {r}% or more below the household's baseline"
        ),
        "programmes": "Programme overrides",
        "programme": "programme",
        "setting": "setting",
        "value": "value",
        "none": "(none)",
    },
}


def _hours(value: float, lang: str) -> str:
    return WORDS[lang]["hours"].format(h=f"{value:g}")


def _codes(values: list[Any]) -> str:
    return "`, `".join(getattr(v, "value", str(v)) for v in values)


def rule_rows(rules: RuleSet, lang: str) -> list[tuple[str, str, str]]:
    """(rule id, condition, severity) for every rule, in the order the file lists them."""
    w = WORDS[lang]
    a, s, ar, d = rules.absence, rules.safety_call, rules.arrears, rules.disconnection
    rows = [
        (a.rule_id, w["one_silent"], a.one_silent_severity.value),
        (a.rule_id, w["all_silent"], a.all_silent_severity.value),
        (s.rule_id, w["unanswered"].format(n=s.unanswered_threshold), s.severity.value),
    ]
    rows += [
        (s.concern_rule_id, w["concern"].format(c=c.value), sev.value)
        for c, sev in s.concern_severity.items()
    ]
    rows += [
        (
            ar.rule_id,
            w["arrears"].format(types=_codes(ar.types), n=ar.min_months_overdue),
            ar.severity.value,
        ),
        (
            ar.rule_id,
            w["double_check"].format(n=ar.double_check_min_types, days=ar.double_check_window_days),
            ar.double_check_severity.value,
        ),
    ]
    if ar.recheck_after_months:
        rows.append((ar.rule_id, w["recheck"].format(n=ar.recheck_after_months), w["no_alert"]))
    high = _codes(d.high_utilities)
    months = ", ".join(str(m) for m in d.winter_months)
    rows += [
        (d.rule_id, w["cut"].format(u=high), d.cut_severity.value),
        (d.rule_id, w["cut_winter"].format(u=high, months=months), d.cut_severity_winter.value),
        (d.rule_id, w["other_cut"], d.other_cut_severity.value),
        (d.rule_id, w["pending"], d.pending_severity.value),
    ]
    u, r = rules.usage_drop, rules.report
    drop = w["usage_drop"].format(
        w=u.window_days, b=u.baseline_days, r=f"{u.min_drop_ratio * 100:g}"
    )
    rows += [
        (u.rule_id, drop, u.severity.value),
        (r.rule_id, w["report"], r.severity.value),
        (r.rule_id, w["report_critical"].format(cats=_codes(r.critical_categories)), "critical"),
    ]
    rows += [
        (r.rule_id, w["report_urgency"].format(u=urgency.value), sev.value)
        for urgency, sev in r.urgency_severity.items()
    ]
    rows += [
        (rules.sos.rule_id, w["sos"], rules.sos.severity.value),
        (rules.blind_spot.rule_id, w["blind_spot"], rules.blind_spot.severity.value),
        (rules.hospital_discharge.rule_id, w["hospital"], rules.hospital_discharge.severity.value),
    ]
    stay = rules.hospital_stay
    if stay.pause_watch:
        condition = w["hospital_stay"].format(h=stay.back_home_hour, d=stay.default_stay_days)
        rows.append((stay.rule_id, condition, w["no_alert"]))
    rows += [
        (
            rules.mail_uncollected.rule_id,
            w["mail"].format(n=rules.mail_uncollected.min_days),
            rules.mail_uncollected.severity.value,
        ),
    ]
    wm = rules.water_meter
    rows += [
        (
            wm.rule_id,
            w["water_no_flow"].format(h=f"{wm.no_flow_hours:g}"),
            wm.no_flow_severity.value,
        ),
        (
            wm.rule_id,
            w["water_drop"].format(r=f"{wm.min_drop_ratio * 100:g}"),
            wm.drop_severity.value,
        ),
    ]
    return rows


def _rhythm(r: RhythmRule, w: dict[str, str]) -> str:
    if not r.enabled:
        return w["no_rhythm"]
    text = w["rhythm"].format(
        prior=f"{r.prior_weeks:g}",
        t=f"{r.threshold_nats:g}",
        lo=f"{r.min_hours:g}",
        hi=f"{r.max_hours:g}",
        ow=f"{r.outage_weight:g}",
        p=f"{r.person_at_nats:g}",
        sev=r.check_first_severity.value,
    )
    return text + w["offline"] if r.offline_at_floor else text


def section(rules: RuleSet, programmes: dict[str, dict[str, Any]], lang: str) -> list[str]:
    w = WORDS[lang]
    a = rules.absence
    lines = [f"#### {w['windows']}", "", f"| {w['channel']} | {w['window']} |", "|---|---|"]
    lines += [f"| `{c.value}` | {_hours(h, lang)} |" for c, h in a.windows_hours.items()]
    start, end = a.quiet_start.strftime("%H:%M"), a.quiet_end.strftime("%H:%M")
    lines += [
        "",
        w["quiet"].format(start=start, end=end),
        w["recovery"] if a.recovery_resolves else w["no_recovery"],
        "",
        _rhythm(a.rhythm, w),
        "",
        f"#### {w['rules']}",
        "",
        f"| {w['rule']} | {w['condition']} | {w['severity']} |",
        "|---|---|---|",
    ]
    lines += [f"| `{rid}` | {cond} | {sev} |" for rid, cond, sev in rule_rows(rules, lang)]
    lines += [
        "",
        f"#### {w['programmes']}",
        "",
        f"| {w['programme']} | {w['setting']} | {w['value']} |",
        "|---|---|---|",
    ]
    rows = [
        f"| `{name}` | `{path}` | {value} |"
        for name, overrides in programmes.items()
        for path, value in overrides.items()
    ]
    lines += rows or [f"| {w['none']} | | |"]
    return [*lines, ""]


def render() -> str:
    catalog = load_catalog()
    lines = [
        "# 탐지 규칙 / Detection rules",
        "",
        "<!-- Generated by tools/gen_rules_doc.py from services/detector/src/anbu_detector/"
        "config/rules.yaml — the file the detector runs. Do not edit by hand. -->",
        "",
        f"Rules version `{catalog.default.version}` (every alert records it). Which alert "
        "starts which protocol: [protocols.md](protocols.md). A household's own overrides "
        "(registry `rule_overrides`) apply on top of its programme's, by the same dotted paths.",
        "",
    ]
    for lang, heading in (("ko", "## 한국어"), ("en", "## English")):
        lines += [heading, "", *section(catalog.default, catalog.programmes, lang)]
    return "\n".join(lines).rstrip() + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    text = render()
    if args.check:
        if not OUT.exists() or OUT.read_text(encoding="utf-8") != text:
            sys.stderr.write("docs/rules.md is stale: run `make schemas`\n")
            return 1
        return 0
    OUT.write_text(text, encoding="utf-8")
    sys.stdout.write(f"wrote {OUT.relative_to(ROOT)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
