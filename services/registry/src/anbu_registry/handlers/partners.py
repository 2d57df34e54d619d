"""Partner organisations and their API keys (stored as digests, shown once, revocable)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from anbu_contracts import SignalKind
from anbu_runtime.auth import Principal

from ..adapters.orm import ApiKeyRow, PartnerRow
from ..adapters.repository import Repositories, UoW
from ..domain.identifiers import new_id
from ..domain.model import ApiKeyIn, PartnerIn
from .common import Conflict, NotFound, audit, require

KEY_PREFIX = "anbu"


@dataclass(frozen=True)
class IssuedKey:
    key_id: str
    api_key: str  # shown once, never stored
    expires_at: datetime | None


@dataclass(frozen=True)
class VerifiedKey:
    partner_id: str
    key_id: str
    allowed_kinds: list[SignalKind]
    rate_limit_per_minute: int


def _digest(secret: str) -> str:
    # API keys carry 256 random bits, so a fast digest is enough (no password stretching).
    return hashlib.sha256(secret.encode()).hexdigest()


def create(uow: UoW, data: PartnerIn, principal: Principal) -> str:
    require(principal.is_admin, "only administrators manage partners")
    if uow.session.get(PartnerRow, data.partner_id) is not None:
        raise Conflict(f"partner {data.partner_id} already exists")
    uow.session.add(
        PartnerRow(
            partner_id=data.partner_id,
            organisation=data.organisation,
            allowed_kinds=[k.value for k in data.allowed_kinds],
            rate_limit_per_minute=data.rate_limit_per_minute,
            created_at=uow.now,
        )
    )
    audit(uow, principal, "partner.create", data.partner_id, "partner onboarding")
    return data.partner_id


def listing(repos: Repositories, principal: Principal) -> Sequence[PartnerRow]:
    require(principal.is_admin, "only administrators manage partners")
    return repos.partners()


def issue_key(uow: UoW, partner_id: str, data: ApiKeyIn, principal: Principal) -> IssuedKey:
    require(principal.is_admin, "only administrators issue partner keys")
    if uow.session.get(PartnerRow, partner_id) is None:
        raise NotFound(f"partner {partner_id} not found")
    key_id = new_id("K", 12)
    secret = secrets.token_urlsafe(32)
    uow.session.add(
        ApiKeyRow(
            key_id=key_id,
            partner_id=partner_id,
            digest=_digest(secret),
            label=data.label,
            created_at=uow.now,
            expires_at=data.expires_at,
        )
    )
    audit(
        uow,
        principal,
        "partner.key.issue",
        partner_id,
        data.label or "api key",
        {"key_id": key_id},
    )
    return IssuedKey(key_id, f"{KEY_PREFIX}_{key_id}_{secret}", data.expires_at)


def revoke_key(uow: UoW, key_id: str, principal: Principal) -> None:
    require(principal.is_admin, "only administrators revoke partner keys")
    row = uow.session.get(ApiKeyRow, key_id)
    if row is None:
        raise NotFound(f"key {key_id} not found")
    if row.revoked_at is None:
        row.revoked_at = uow.now
        uow.session.add(row)
        audit(
            uow,
            principal,
            "partner.key.revoke",
            row.partner_id,
            "revocation",
            {"key_id": key_id},
        )


def keys_of(repos: Repositories, partner_id: str, principal: Principal) -> Sequence[ApiKeyRow]:
    require(principal.is_admin, "only administrators manage partner keys")
    return repos.api_keys_of(partner_id)


def verify(uow: UoW, api_key: str) -> VerifiedKey | None:
    """The partner behind ``api_key`` if it is valid, unexpired, unrevoked and active."""
    parts = api_key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX:
        return None
    _, key_id, secret = parts
    row = uow.session.get(ApiKeyRow, key_id)
    if row is None or not hmac.compare_digest(row.digest, _digest(secret)):
        return None
    # A key's expiry is a wall-clock instant an administrator chose: never the accelerated
    # service clock, which would expire keys early in a demo (or late, if set back).
    now = datetime.now(UTC)
    if row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
        return None
    partner = uow.session.get(PartnerRow, row.partner_id)
    if partner is None or not partner.active:
        return None
    row.last_used_at = now
    uow.session.add(row)
    return VerifiedKey(
        partner_id=partner.partner_id,
        key_id=key_id,
        allowed_kinds=[SignalKind(k) for k in partner.allowed_kinds],
        rate_limit_per_minute=partner.rate_limit_per_minute,
    )
