"""Request bodies: refused over the shared limit before parsing, except the CSV import."""

from __future__ import annotations

from .conftest import Registry
from .test_bulk_import import csv_of, good

DEFAULT_LIMIT = 1024 * 1024  # ANBU_HTTP_MAX_BODY_BYTES


def test_a_login_body_over_the_limit_is_refused_before_it_is_parsed(registry: Registry) -> None:
    padding = "x" * (2 * DEFAULT_LIMIT)
    response = registry.client.post(
        "/v1/auth/login", json={"username": "official-515", "password": padding}
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["limit_bytes"] == DEFAULT_LIMIT


def test_a_csv_import_over_the_default_limit_is_accepted(registry: Registry) -> None:
    body = csv_of([good(n % 4000) for n in range(14_000)])
    assert len(body) > DEFAULT_LIMIT
    response = registry.client.post(
        "/v1/imports/households",
        headers=registry.service,
        params={"dry_run": "true"},
        files={"file": ("list.csv", body, "text/csv")},
    )
    assert response.status_code == 200, response.text
    assert response.json()["valid"] == 14_000


def test_answers_with_personal_data_are_not_stored_by_caches(registry: Registry) -> None:
    household = registry.household()
    response = registry.client.get(f"/v1/households/{household}", headers=registry.service)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
