"""The registry's REST API, one route module a resource (entrypoints/routes/). Errors are
RFC 9457 problems; personal data reads are audited."""

from __future__ import annotations

from fastapi import APIRouter

from anbu_runtime.service import ServiceRuntime

from ..handlers.common import Context
from .routes import cases, households, imports, internal, partners, users, workers


def router(runtime: ServiceRuntime, ctx: Context, import_workers: int = 0) -> APIRouter:
    api = APIRouter()
    for area in (users, households, cases, workers, partners, internal):
        api.include_router(area.router(runtime, ctx))
    api.include_router(imports.router(runtime, ctx, import_workers))
    return api
