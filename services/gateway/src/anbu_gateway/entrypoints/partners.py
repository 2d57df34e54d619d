"""Who a partner is (its registry key) and how much it may send (its rate limit)."""

from __future__ import annotations

import time

from anbu_runtime.problems import Problem

from ..adapters.registry_client import PartnerKey, RegistryClient, RegistryUnavailable
from ..domain.rate_limit import RateLimiter
from ..metrics import AUTH_REFUSED, RATE_LIMITED, REGISTRY_FAILURES


class PartnerGate:
    def __init__(self, registry: RegistryClient, limiter: RateLimiter) -> None:
        self.registry = registry
        self.limiter = limiter

    async def authenticate(self, api_key: str | None) -> PartnerKey:
        """The partner behind the ``X-Api-Key`` header; 401 or 503 problems otherwise."""
        if not api_key:
            AUTH_REFUSED.labels("missing_key").inc()
            raise _unauthenticated("an X-Api-Key header with a partner key is required")
        try:
            key = await self.registry.verify_key(api_key)
        except RegistryUnavailable as exc:
            REGISTRY_FAILURES.inc()
            raise Problem(
                503,
                "Service unavailable",
                "partner keys cannot be checked right now; retry shortly",
                type_="registry-unavailable",
                headers={"Retry-After": "5"},
            ) from exc
        if key is None:
            AUTH_REFUSED.labels("invalid_key").inc()
            raise _unauthenticated("the key is unknown, expired or revoked")
        return key

    def require_kind(self, key: PartnerKey, kind: str) -> None:
        if kind not in key.allowed_kinds:
            AUTH_REFUSED.labels("outside_scope").inc()
            raise outside_scope(key, [kind])

    def admit(self, key: PartnerKey, records: int) -> None:
        """Take ``records`` tokens from the partner's bucket, or refuse with 429 (or 413)."""
        decision = self.limiter.admit(
            key.partner_id, key.rate_limit_per_minute, records, time.monotonic()
        )
        if decision.allowed:
            return
        RATE_LIMITED.labels(key.partner_id).inc()
        if decision.never:
            raise Problem(
                413,
                "Batch larger than the rate limit",
                f"{records} records exceed this partner's limit of "
                f"{key.rate_limit_per_minute} records a minute: split the batch, or upload a "
                "file (files are paced instead of refused)",
                type_="batch-exceeds-rate-limit",
                extensions={"records": records, "limit_per_minute": key.rate_limit_per_minute},
            )
        raise Problem(
            429,
            "Too many requests",
            f"this partner may send {key.rate_limit_per_minute} records a minute; "
            f"{records} more fit in {decision.retry_after_s} s",
            type_="rate-limited",
            headers={"Retry-After": str(decision.retry_after_s)},
            extensions={
                "records": records,
                "limit_per_minute": key.rate_limit_per_minute,
                "retry_after_s": decision.retry_after_s,
            },
        )


def outside_scope(key: PartnerKey, kinds: list[str], lines: list[int] | None = None) -> Problem:
    extensions: dict[str, object] = {"kinds": kinds, "allowed_kinds": sorted(key.allowed_kinds)}
    if lines:
        extensions["lines"] = lines[:1000]
    return Problem(
        403,
        "Signal kind outside this key's scope",
        f"partner {key.partner_id} may not send {', '.join(kinds)} "
        f"(allowed: {', '.join(sorted(key.allowed_kinds)) or 'none'})",
        type_="outside-scope",
        extensions=extensions,
    )


def _unauthenticated(detail: str) -> Problem:
    return Problem(
        401, "Unauthorized", detail, type_="unauthenticated", headers={"WWW-Authenticate": "ApiKey"}
    )
