"""Resolve recipient references to addresses through the registry, at send time.

Every call is audited by the registry (who asked, for which purpose). Addresses come back
as :class:`Recipient` objects, live for one send and are never stored or logged here.
"""

from __future__ import annotations

from datetime import time
from typing import Any, Protocol

import httpx
from pydantic import BaseModel

from anbu_contracts import Locale, RecipientRef
from anbu_contracts.notify import Channel

from ..domain.model import DEFAULT_TIMEZONE, Recipient


class RecipientNotFound(LookupError):
    """The registry does not know the household or person (final)."""


class DirectoryUnavailable(ConnectionError):
    """The registry could not answer now (worth trying again later)."""


class Directory(Protocol):
    async def resolve(self, recipient: RecipientRef, purpose: str) -> list[Recipient]: ...

    async def close(self) -> None: ...


class _Address(BaseModel):
    person_ref: str
    name: str
    phone: str | None = None
    email: str | None = None
    locale: Locale = Locale.KO
    preferred_channel: Channel = Channel.SMS
    quiet_start: time | None = None
    quiet_end: time | None = None
    timezone: str = DEFAULT_TIMEZONE

    def recipient(self) -> Recipient:
        return Recipient(**self.model_dump())


class RegistryClient:
    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout_s: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(timeout_s),
            transport=transport,
        )

    async def resolve(self, recipient: RecipientRef, purpose: str) -> list[Recipient]:
        body: dict[str, Any] = {"recipient": recipient.model_dump(mode="json"), "purpose": purpose}
        try:
            response = await self._client.post("/internal/v1/recipients/resolve", json=body)
        except httpx.HTTPError as exc:
            raise DirectoryUnavailable(f"registry unreachable ({type(exc).__name__})") from exc
        if response.status_code == 404:
            raise RecipientNotFound(_detail(response) or "recipient not found")
        if response.status_code != 200:
            raise DirectoryUnavailable(f"registry answered {response.status_code}")
        return [_Address.model_validate(a).recipient() for a in response.json()["recipients"]]

    async def close(self) -> None:
        await self._client.aclose()


def _detail(response: httpx.Response) -> str | None:
    try:
        detail = response.json().get("detail")
    except ValueError:
        return None
    return str(detail)[:200] if detail else None
