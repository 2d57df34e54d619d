"""The registry, as the gateway needs it: partner keys and household lookups.

Keys are verified with ``POST /internal/v1/partner-keys/verify`` (service token). A valid
key is remembered for ``key_ttl`` seconds (a revoked key stops working within that time);
an invalid one only for ``failure_ttl`` seconds, so a key issued a moment ago works almost
at once. Concurrent requests with the same uncached key share one registry call. Keys are
cached under their SHA-256 digest, never in clear.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import httpx

from ..domain.reports import Lookup, LookupResult

# The registry issues keys as anbu_<key id>_<secret> (the secret is URL-safe base64).
KEY_FORMAT = re.compile(r"^anbu_[A-Za-z0-9-]{1,64}_[A-Za-z0-9_-]{16,128}$")


@dataclass(frozen=True)
class PartnerKey:
    partner_id: str
    key_id: str
    allowed_kinds: frozenset[str]
    rate_limit_per_minute: int


class RegistryUnavailable(Exception):
    """The registry did not answer (or answered nonsense): callers answer 503."""


class RegistryClient:
    def __init__(
        self,
        base_url: str,
        service_token: str,
        *,
        key_ttl: float = 60.0,
        failure_ttl: float = 5.0,
        max_cached: int = 10_000,
        timeout: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._token = service_token
        self._key_ttl = key_ttl
        self._failure_ttl = failure_ttl
        self._max_cached = max_cached
        self._timeout = timeout
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._cache: OrderedDict[str, tuple[float, PartnerKey | None]] = OrderedDict()
        self._inflight: dict[str, asyncio.Future[PartnerKey | None]] = {}

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                base_url=self._base_url,
                headers={"Authorization": f"Bearer {self._token}"},
                timeout=self._timeout,
                transport=self._transport,
            )
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # -- partner keys ---------------------------------------------------------------

    async def verify_key(self, api_key: str) -> PartnerKey | None:
        """The partner behind ``api_key``, or None for an unknown, expired or revoked key."""
        digest = hashlib.sha256(api_key.encode()).hexdigest()
        now = time.monotonic()
        cached = self._cache.get(digest)
        if cached is not None and cached[0] > now:
            self._cache.move_to_end(digest)
            return cached[1]
        pending = self._inflight.get(digest)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[PartnerKey | None] = asyncio.get_running_loop().create_future()
        self._inflight[digest] = future
        try:
            result = await self._verify(api_key)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it, nobody logs it unhandled
            raise
        else:
            future.set_result(result)
            ttl = self._key_ttl if result is not None else self._failure_ttl
            self._cache[digest] = (time.monotonic() + ttl, result)
            self._cache.move_to_end(digest)
            while len(self._cache) > self._max_cached:
                self._cache.popitem(last=False)
            return result
        finally:
            self._inflight.pop(digest, None)

    async def _verify(self, api_key: str) -> PartnerKey | None:
        if not KEY_FORMAT.match(api_key):
            return None  # not a registry key at all: no need to ask
        try:
            response = await self.client.post(
                "/internal/v1/partner-keys/verify", json={"api_key": api_key}
            )
        except httpx.HTTPError as exc:
            raise RegistryUnavailable(f"registry unreachable: {type(exc).__name__}") from exc
        if response.status_code in (401, 422):
            return None
        if response.status_code != 200:
            raise RegistryUnavailable(f"registry answered {response.status_code}")
        data: dict[str, Any] = response.json()
        return PartnerKey(
            partner_id=data["partner_id"],
            key_id=data["key_id"],
            allowed_kinds=frozenset(data["allowed_kinds"]),
            rate_limit_per_minute=int(data["rate_limit_per_minute"]),
        )

    # -- households -----------------------------------------------------------------

    async def household(self, household_id: str) -> Lookup:
        """Whether the registry knows ``household_id``, and its dong."""
        try:
            response = await self.client.get(f"/v1/households/{household_id}")
        except httpx.HTTPError:
            return Lookup(LookupResult.UNAVAILABLE)
        if response.status_code in (404, 422):
            return Lookup(LookupResult.NOT_FOUND)
        if response.status_code != 200:
            return Lookup(LookupResult.UNAVAILABLE)
        data = response.json()
        return Lookup(LookupResult.FOUND, data["household_id"], data.get("dong_code"))

    async def reporter_lookup(
        self, invitation_id: str, reporter_role: str, kind: str, value: str
    ) -> Lookup:
        """The one household a reporter named by id or phone, asked on the invitation's behalf.

        A POST, so the phone number stays out of URLs and access logs; the registry audits the
        lookup under the invitation. The answer is for the gateway alone: the reporter is never
        told it.
        """
        try:
            response = await self.client.post(
                "/internal/v1/reporter-lookups",
                json={
                    "invitation_id": invitation_id,
                    "reporter_role": reporter_role,
                    "lookup_kind": kind,
                    "value": value,
                },
            )
        except httpx.HTTPError:
            return Lookup(LookupResult.UNAVAILABLE)
        if response.status_code == 422:
            return Lookup(LookupResult.NOT_FOUND)
        if response.status_code != 200:
            return Lookup(LookupResult.UNAVAILABLE)
        data = response.json()
        if not data.get("matched"):
            return Lookup(LookupResult.NOT_FOUND)
        return Lookup(LookupResult.FOUND, data["household_id"], data.get("dong_code"))
