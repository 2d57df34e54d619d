"""The registry's login endpoint, as the console calls it: people log in with their registry
account; the console keeps the returned token in a cookie and verifies it locally."""

from __future__ import annotations

import httpx

from anbu_runtime.web_login import Login, LoginLocked, RegistryUnavailable, registry_login

__all__ = ["Login", "LoginLocked", "RegistryClient", "RegistryUnavailable"]


class RegistryClient:
    def __init__(
        self,
        base_url: str,
        transport: httpx.AsyncBaseTransport | None = None,
        service_token: str | None = None,
    ) -> None:
        self._service_token = service_token
        self._client = httpx.AsyncClient(
            base_url=base_url, timeout=httpx.Timeout(5.0), transport=transport
        )

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

    async def close(self) -> None:
        await self._client.aclose()
