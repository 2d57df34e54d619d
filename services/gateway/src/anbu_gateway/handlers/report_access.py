"""Who may do what with the safety net's invitations and reports, and its settings."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from anbu_runtime.auth import Principal, UserRole

from ..adapters.orm import InvitationRow, ReportRow

# Sealing contexts: a sealed note does not open as an address (AES-GCM associated data).
NOTE_CONTEXT = "report.note"
ADDRESS_CONTEXT = "report.address"
_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read aloud over the phone


def _code(n: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(n))


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class NotAllowed(Exception):
    pass


class NotFound(Exception):
    pass


class Conflict(Exception):
    pass


@dataclass(frozen=True)
class ReportSettings:
    partner_id: str = "safety-net"
    public_url: str = "http://127.0.0.1:8702"
    reports_per_hour: int = 20  # per invitation
    publish_timeout_s: float = 10.0


def may_invite(principal: Principal) -> bool:
    return principal.has_role(UserRole.OPERATOR, UserRole.DONG_OFFICIAL)


def sees_dongs(principal: Principal, dongs: Sequence[str]) -> bool:
    """Whether ``principal`` serves every dong in ``dongs`` (an empty list: admins only)."""
    if principal.is_admin:
        return True
    return bool(dongs) and all(principal.sees_dong(d) for d in dongs)


def sees_report(principal: Principal, row: ReportRow, invitation: InvitationRow | None) -> bool:
    if principal.is_admin:
        return True
    if not principal.has_role(UserRole.OPERATOR, UserRole.DONG_OFFICIAL):
        return False
    if row.dong_code is not None:
        return principal.sees_dong(row.dong_code)
    return invitation is not None and sees_dongs(principal, invitation.dong_codes)
