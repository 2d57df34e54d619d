"""Resolve recipient references to addresses through the registry, at send time."""

from __future__ import annotations

from datetime import time
from typing import Any

import httpx
from pydantic import BaseModel

from anbu_contracts import Locale, RecipientRef
from anbu_contracts.notify import Channel


class Address(BaseModel):
    person_ref: str
    name: str
    phone: str | None = None
    email: str | None = None
    locale: Locale = Locale.KO
    preferred_channel: Channel = Channel.SMS
    quiet_start: time | None = None
    quiet_end: time | None = None
    timezone: str = "Asia/Seoul"


class RecipientNotFound(LookupError):
    pass


class RegistryClient:
    def __init__(self, base_url: str, token: str) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(5.0),
        )

    async def resolve(self, recipient: RecipientRef, purpose: str) -> list[Address]:
        body: dict[str, Any] = {"recipient": recipient.model_dump(mode="json"), "purpose": purpose}
        response = await self._client.post("/internal/v1/recipients/resolve", json=body)
        if response.status_code == 404:
            raise RecipientNotFound(response.json().get("detail", "recipient not found"))
        response.raise_for_status()
        return [Address.model_validate(a) for a in response.json()["recipients"]]

    async def close(self) -> None:
        await self._client.aclose()
