"""People's login for the server-rendered pages (the console, the field app).

The registry checks the password (``POST /v1/auth/login``) and issues a token; the page keeps
it in an HttpOnly, SameSite=strict cookie and every request verifies it locally
(``anbu_runtime.auth.verify_token``). The login form carries a one-time nonce, also kept in
a cookie of the login path, so a form posted from elsewhere is refused.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

import httpx
from fastapi import Request
from fastapi.responses import Response

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
NONCE_SECONDS = 1800


class RegistryUnavailable(RuntimeError):
    """The registry could not be reached or answered with a server error."""


class LoginLocked(RuntimeError):
    """Too many failed logins for the account or from the person's address (registry 429)."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"login locked for {retry_after} s")
        self.retry_after = retry_after


@dataclass(frozen=True)
class Login:
    token: str
    expires_in: int
    role: str
    worker_id: str | None = None


async def registry_login(
    client: httpx.AsyncClient,
    username: str,
    password: str,
    *,
    client_address: str | None = None,
    service_token: str | None = None,
) -> Login | None:
    """A person's token from the registry, or None when it refuses the credentials.

    With the service token, the person's own address (``client_address``) goes along, so
    the registry's per-address login throttling counts the person, not this service (else
    every console user would share one address and one user's failures lock out all).
    Raises :class:`LoginLocked` while the account or address is locked.
    """
    headers: dict[str, str] = {}
    if client_address and service_token:
        headers = {
            "Authorization": f"Bearer {service_token}",
            "X-Anbu-Client-Address": client_address[:64],
        }
    try:
        response = await client.post(
            "/v1/auth/login", json={"username": username, "password": password}, headers=headers
        )
    except httpx.HTTPError as exc:
        raise RegistryUnavailable(type(exc).__name__) from exc
    if response.status_code in (401, 403, 422):
        return None
    if response.status_code == 429:
        retry = response.headers.get("Retry-After", "")
        raise LoginLocked(int(retry) if retry.isdigit() else 60)
    if response.status_code >= 400:
        raise RegistryUnavailable(f"login answered {response.status_code}")
    body = response.json()
    return Login(
        token=body["access_token"],
        expires_in=int(body.get("expires_in", 1800)),
        role=str(body.get("role", "")),
        worker_id=body.get("worker_id"),
    )


def login_status(error: str | None) -> int:
    """The status of the login page shown after ``error``: a form posted without its nonce
    is the client's mistake (400), refused credentials 401, a locked login 429, the registry
    unreachable 503."""
    return {None: 200, "login_failed": 401, "csrf": 400, "login_locked": 429}.get(error, 503)


def secure(request: Request) -> bool:
    """Cookies are ``Secure`` everywhere but on a developer's own machine."""
    return (request.url.hostname or "") not in LOCAL_HOSTS


@dataclass(frozen=True)
class LoginCookies:
    """The cookies of one site: its session, and the login form's nonce."""

    session: str
    nonce: str
    login_path: str  # where the form lives (the nonce cookie is scoped to it)
    session_path: str = "/"

    def issue_nonce(self, request: Request, response: Response, nonce: str) -> None:
        response.set_cookie(
            self.nonce,
            nonce,
            max_age=NONCE_SECONDS,
            httponly=True,
            samesite="strict",
            secure=secure(request),
            path=self.login_path,
        )

    @staticmethod
    def new_nonce() -> str:
        return secrets.token_urlsafe(24)

    async def credentials(self, request: Request) -> tuple[str, str, str | None] | str:
        """The posted username, password and ``next`` — or the error to show: ``csrf``
        (the nonce is missing or wrong) or ``login_failed`` (fields missing)."""
        form = await request.form()
        nonce = request.cookies.get(self.nonce, "")
        sent = form.get("csrf")
        if not nonce or not isinstance(sent, str) or not hmac.compare_digest(nonce, sent):
            return "csrf"
        username, password = form.get("username"), form.get("password")
        if not isinstance(username, str) or not isinstance(password, str):
            return "login_failed"
        next_page = form.get("next")
        return username[:64], password[:200], next_page if isinstance(next_page, str) else None

    def start_session(self, request: Request, response: Response, login: Login) -> None:
        response.set_cookie(
            self.session,
            login.token,
            max_age=max(login.expires_in, 60),
            httponly=True,
            samesite="strict",
            secure=secure(request),
            path=self.session_path,
        )
        response.delete_cookie(self.nonce, path=self.login_path)
