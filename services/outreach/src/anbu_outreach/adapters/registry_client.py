"""Ask the registry for a household snapshot when outreach's cache has not caught up yet."""

from __future__ import annotations

import httpx

from anbu_contracts import HouseholdSnapshot


class RegistryClient:
    def __init__(self, base_url: str, token: str) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(5.0),
        )

    async def household(self, household_id: str) -> HouseholdSnapshot | None:
        response = await self._client.get(f"/v1/households/{household_id}")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return HouseholdSnapshot.model_validate_json(response.content)

    async def close(self) -> None:
        await self._client.aclose()
