"""Which text encodings a partner's file may use, and how the gateway decides.

Korean institutions often export CP949 (Microsoft's superset of EUC-KR). The gateway accepts
UTF-8 (with or without a byte-order mark) and CP949/EUC-KR, declared with ``?encoding=`` or
a ``charset`` in the content type, or detected: a file that is not UTF-8 is read as CP949
only when it decodes as CP949 from the first byte to the last and reads as Korean text.
"""

from __future__ import annotations

UTF8 = "utf-8-sig"  # reads UTF-8 with or without a byte-order mark
CP949 = "cp949"  # a superset of EUC-KR: every EUC-KR file reads correctly as CP949

_ALIASES = {
    "utf-8": UTF8,
    "utf8": UTF8,
    "utf-8-sig": UTF8,
    "euc-kr": CP949,
    "euc_kr": CP949,
    "euckr": CP949,
    "cp949": CP949,
    "ms949": CP949,
    "uhc": CP949,
    "windows-949": CP949,
    "x-windows-949": CP949,
    "ks_c_5601-1987": CP949,
}
ACCEPTED_NAMES = tuple(sorted(_ALIASES))


class UnsupportedEncoding(ValueError):
    pass


def declared(name: str | None) -> str | None:
    """The codec for a declared encoding name (None when nothing was declared)."""
    if name is None or not name.strip():
        return None
    codec = _ALIASES.get(name.strip().lower())
    if codec is None:
        raise UnsupportedEncoding(
            f"encoding {name!r} is not accepted; use UTF-8 or EUC-KR/CP949 "
            f"({', '.join(ACCEPTED_NAMES)})"
        )
    return codec


def public_name(codec: str) -> str:
    return "utf-8" if codec == UTF8 else "cp949"


def _is_hangul_or_hanja(ch: str) -> bool:
    code = ord(ch)
    return (
        0xAC00 <= code <= 0xD7A3  # Hangul syllables
        or 0x3130 <= code <= 0x318F  # Hangul compatibility jamo
        or 0x4E00 <= code <= 0x9FFF  # Hanja (CJK unified ideographs)
    )


def reads_as_korean(text: str, *, minimum_share: float = 0.6) -> bool:
    """Whether the non-ASCII characters of ``text`` are mostly Hangul or Hanja."""
    non_ascii = [ch for ch in text if ord(ch) > 0x7F]
    if not non_ascii:
        return False
    korean = sum(1 for ch in non_ascii if _is_hangul_or_hanja(ch))
    return korean / len(non_ascii) >= minimum_share
