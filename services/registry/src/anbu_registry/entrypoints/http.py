"""The registry's REST API, one route module a resource (entrypoints/routes/). Errors are
RFC 9457 problems; personal data reads are audited."""

from __future__ import annotations

from fastapi import APIRouter

from anbu_runtime.settings import CommonSettings
from anbu_runtime.uow import Transactions

from ..adapters.pii import PiiCipher
from ..adapters.repository import Repositories
from .routes import cases, households, imports, internal, partners, users, workers
from .routes.transaction import RouteTransactions


def router(
    tx: Transactions[Repositories],
    common: CommonSettings,
    cipher: PiiCipher,
    import_workers: int = 0,
) -> APIRouter:
    routes = RouteTransactions(tx)
    api = APIRouter()
    api.include_router(users.router(routes, common))
    for area in (households, cases, workers, partners, internal):
        api.include_router(area.router(routes))
    api.include_router(imports.router(routes, cipher, import_workers))
    return api
