"""The registry's login endpoint, as the console calls it: people log in with their registry
account; the console keeps the returned token in a cookie and verifies it locally."""

from __future__ import annotations

from dataclasses import dataclass

import httpx


class RegistryUnavailable(RuntimeError):
    """The registry could not be reached or answered with a server error."""


@dataclass(frozen=True)
class Login:
    token: str
    expires_in: int
    role: str


class RegistryClient:
    def __init__(self, base_url: str, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url, timeout=httpx.Timeout(5.0), transport=transport
        )

    async def login(self, username: str, password: str) -> Login | None:
        """A person's token, or None when the registry refuses the credentials."""
        try:
            response = await self._client.post(
                "/v1/auth/login", json={"username": username, "password": password}
            )
        except httpx.HTTPError as exc:
            raise RegistryUnavailable(type(exc).__name__) from exc
        if response.status_code in (401, 403, 422):
            return None
        if response.status_code >= 400:
            raise RegistryUnavailable(f"login answered {response.status_code}")
        body = response.json()
        return Login(
            token=body["access_token"],
            expires_in=int(body.get("expires_in", 1800)),
            role=str(body.get("role", "")),
        )

    async def close(self) -> None:
        await self._client.aclose()
