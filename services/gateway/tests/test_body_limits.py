"""Request bodies: the shared 1 MiB limit, and the batch route's own larger one."""

from __future__ import annotations

import json

import httpx
import pytest

from .conftest import Registry, household_id, unique

pytestmark = pytest.mark.integration

DEFAULT_LIMIT = 1024 * 1024  # ANBU_HTTP_MAX_BODY_BYTES
NDJSON = {"content-type": "application/x-ndjson"}


def call(household: str) -> str:
    return json.dumps(
        {
            "kind": "safety_call",
            "household_id": household,
            "partner_event_id": unique("limit-"),
            "occurred_at": "2026-11-25T09:00:00+09:00",
            "outcome": "unanswered",
        }
    )


async def test_a_single_signal_over_the_default_limit_is_refused(
    gateway: httpx.AsyncClient, registry: Registry
) -> None:
    partner = registry.partner(["safety_call"])
    body = call(household_id())[:-1] + ', "note": "' + "x" * DEFAULT_LIMIT + '"}'
    response = await gateway.post(
        "/v1/signals", content=body, headers={**partner.headers, "content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["limit_bytes"] == DEFAULT_LIMIT


async def test_a_batch_over_the_default_limit_is_accepted(
    gateway: httpx.AsyncClient, registry: Registry
) -> None:
    partner = registry.partner(["safety_call"])
    household = household_id()
    lines = [call(household) for _ in range(3)]
    # Blank lines are allowed in NDJSON and cost nothing: they carry the batch over 1 MiB.
    body = ("\n".join(lines) + "\n" * (DEFAULT_LIMIT + 1)).encode()
    assert len(body) > DEFAULT_LIMIT
    response = await gateway.post(
        "/v1/batches", content=body, headers={**partner.headers, **NDJSON}
    )
    assert response.status_code == 202, response.text
    assert response.json()["accepted"] == 3
