"""The registry over HTTP: household snapshots for a cold cache, people's logins, and the
address a field worker may see through an accepted task (audited by the registry).

The address is fetched with the worker's own token, shown once and never stored or
logged by outreach.
"""

from __future__ import annotations

import httpx

from anbu_contracts import HouseholdSnapshot
from anbu_runtime.web_login import Login, LoginLocked, RegistryUnavailable, registry_login

__all__ = ["AddressRefused", "Login", "LoginLocked", "RegistryClient", "RegistryUnavailable"]


class AddressRefused(PermissionError):
    """The registry does not show this worker the address (no accepted task, or no right)."""


class RegistryClient:
    def __init__(
        self, base_url: str, token: str, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._service_token = token
        self._client = httpx.AsyncClient(
            base_url=base_url, timeout=httpx.Timeout(5.0), transport=transport
        )

    async def household(self, household_id: str) -> HouseholdSnapshot | None:
        response = await self._get(
            f"/v1/households/{household_id}",
            headers={"Authorization": f"Bearer {self._service_token}"},
        )
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return HouseholdSnapshot.model_validate_json(response.content)

    async def login(
        self, username: str, password: str, client_address: str | None = None
    ) -> Login | None:
        """A person's token, or None when the registry refuses the credentials."""
        return await registry_login(
            self._client,
            username,
            password,
            client_address=client_address,
            service_token=self._service_token,
        )

    async def address(self, household_id: str, token: str, purpose: str) -> str | None:
        """The household's address as the registry shows it to the bearer of ``token``."""
        response = await self._get(
            f"/v1/households/{household_id}/address",
            params={"purpose": purpose},
            headers={"Authorization": f"Bearer {token}"},
        )
        if response.status_code in (401, 403, 404):
            raise AddressRefused(f"registry answered {response.status_code}")
        if response.status_code >= 400:
            raise RegistryUnavailable(f"address answered {response.status_code}")
        address = response.json().get("address")
        return str(address) if address else None

    async def _get(self, path: str, **kwargs: object) -> httpx.Response:
        try:
            return await self._client.get(path, **kwargs)  # type: ignore[arg-type]
        except httpx.HTTPError as exc:
            raise RegistryUnavailable(type(exc).__name__) from exc

    async def close(self) -> None:
        await self._client.aclose()
