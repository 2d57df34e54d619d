"""Render notification templates (Korean and English) from a request's variables.

A missing variable is an error, never a blank: templates use Jinja2's StrictUndefined. A
variable a filter cannot read (a deadline that is not an ISO 8601 instant) is an error too.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound, UndefinedError

from anbu_contracts import Locale

from .quiet_hours import zone

TEMPLATE_DIR = Path(__file__).resolve().parents[1] / "templates"

TASK_LABELS = {
    "phone_check": ("안부 전화 확인", "phone check"),
    "visit_sticker": ("방문 스티커 부착", "visit sticker"),
    "home_visit": ("가정 방문", "home visit"),
    "hospital_check": ("병원 이용 확인", "hospital check"),
    "landlord_check": ("집주인·이웃 확인", "landlord and neighbour check"),
    "guardian_contact": ("부양의무자 연락", "contact support obligors"),
    "door_opening": ("경찰 협조 임의개방", "door opening with police"),
    "missing_person_report": ("가출 신고", "missing-person report"),
    "emergency_response": ("긴급 대응", "emergency response"),
    "investigation": ("발굴 조사 방문", "investigation visit"),
    "transition_care": ("퇴원 연계 돌봄", "transition care"),
    "routine_contact": ("정기 안부 확인", "routine contact"),
}


class TemplateError(ValueError):
    """The template is unknown or a variable it needs is missing or unreadable."""


def _task_label(value: object, locale: str) -> str:
    text = str(value)  # a missing variable (StrictUndefined) raises here, by name
    ko, en = TASK_LABELS.get(text, (text, text))
    return ko if locale == "ko" else en


def _local_time(value: object, timezone: str = "Asia/Seoul") -> str:
    text = str(value)  # a missing variable (StrictUndefined) raises here, by name
    try:
        instant = datetime.fromisoformat(text)
    except ValueError as exc:
        raise TemplateError(f"{value!r} is not an ISO 8601 instant") from exc
    if instant.tzinfo is None:
        raise TemplateError(f"{value!r} has no UTC offset")
    return instant.astimezone(zone(timezone)).strftime("%Y-%m-%d %H:%M")


class Renderer:
    def __init__(self, directory: Path = TEMPLATE_DIR) -> None:
        self._env = Environment(
            loader=FileSystemLoader(directory),
            undefined=StrictUndefined,
            autoescape=False,  # plain-text messages
            keep_trailing_newline=False,
            # The templates ship with the package: no stat() of the file on every render
            # (3 % of the notifier's samples at a few hundred sends a second).
            auto_reload=False,
        )
        self._env.filters["task_label"] = _task_label
        self._env.filters["local_time"] = _local_time

    def render(self, template: str, locale: Locale, variables: Mapping[str, str]) -> str:
        """The message text; raises :class:`TemplateError` rather than leave a blank."""
        try:
            return (
                self._env.get_template(f"{locale.value}/{template}.txt").render(**variables).strip()
            )
        except TemplateNotFound as exc:
            raise TemplateError(f"no template {template!r} for locale {locale.value}") from exc
        except UndefinedError as exc:
            raise TemplateError(f"template {template!r}: {exc.message}") from exc
        except TemplateError as exc:
            raise TemplateError(f"template {template!r}: {exc}") from exc

    def templates(self) -> list[str]:
        return sorted(
            {
                name.split("/", 1)[1].removesuffix(".txt")
                for name in self._env.list_templates()
                if "/" in name
            }
        )
