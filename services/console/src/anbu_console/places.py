"""Names of the administrative dongs (행정동) the console labels, by 10-digit code.

Real codes and names (행정표준코드) of Jongno-gu, where the demo seed and the simulator
place households. A dong not listed here is shown by its code.
"""

from __future__ import annotations

DONG_NAMES: dict[str, tuple[str, str]] = {
    "1111051500": ("청운효자동", "Cheongunhyoja-dong"),
    "1111053000": ("사직동", "Sajik-dong"),
    "1111054000": ("삼청동", "Samcheong-dong"),
    "1111055000": ("부암동", "Buam-dong"),
    "1111056000": ("평창동", "Pyeongchang-dong"),
    "1111057000": ("무악동", "Muak-dong"),
    "1111058000": ("교남동", "Gyonam-dong"),
    "1111060000": ("가회동", "Gahoe-dong"),
    "1111061500": ("종로1·2·3·4가동", "Jongno 1·2·3·4-ga-dong"),
    "1111063000": ("종로5·6가동", "Jongno 5·6-ga-dong"),
    "1111064000": ("이화동", "Ihwa-dong"),
    "1111065000": ("혜화동", "Hyehwa-dong"),
    "1111067000": ("창신1동", "Changsin 1-dong"),
    "1111068000": ("창신2동", "Changsin 2-dong"),
    "1111069000": ("창신3동", "Changsin 3-dong"),
    "1111070000": ("숭인1동", "Sungin 1-dong"),
    "1111071000": ("숭인2동", "Sungin 2-dong"),
}


DISTRICT_NAMES: dict[str, tuple[str, str]] = {"11110": ("종로구", "Jongno-gu")}


def area_name(code: str, lang: str) -> str:
    """A dong's or a district's name, or the code when unknown."""
    names = DISTRICT_NAMES.get(code) if len(code) == 5 else DONG_NAMES.get(code)
    if names is None:
        return code
    return names[1] if lang == "en" else names[0]


def dong_name(code: str | None, lang: str) -> str:
    """The dong's name in ``lang`` (Korean by default), or its code when unknown."""
    if not code:
        return "-"
    names = DONG_NAMES.get(code)
    if names is None:
        return code
    return names[1] if lang == "en" else names[0]
