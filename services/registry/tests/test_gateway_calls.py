"""What the gateway asks the registry: partner keys (wall-clock expiry) and the household a
safety-net reporter named (audited with the invitation, never with the phone in clear)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from anbu_registry.bootstrap import RegistrySettings, create
from anbu_runtime.clock import AcceleratedClock
from anbu_runtime.settings import CommonSettings

from .conftest import SECRET, SERVICE_TOKEN, Registry

SERVICE = {"Authorization": f"Bearer {SERVICE_TOKEN}"}


@pytest.fixture(scope="module")
def ahead(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """A registry whose accelerated clock reads two years ahead of the wall clock (a demo)."""
    tmp_path: Path = tmp_path_factory.mktemp("registry-ahead")
    common = CommonSettings(
        kafka_bootstrap="127.0.0.1:9",
        var_dir=tmp_path,
        service_token=SERVICE_TOKEN,
        auth_secret=SECRET,
    )
    real = datetime.now(UTC)
    clock = AcceleratedClock(start=real + timedelta(days=730), epoch=real, speed=60.0)
    _, app = create(
        common, RegistrySettings(database_url=f"sqlite:///{tmp_path / 'r.db'}"), clock=clock
    )
    with TestClient(app) as client:
        yield Registry(client)


def _key(registry: Registry, partner_id: str, expires_at: datetime) -> str:
    created = registry.client.post(
        "/v1/partners",
        json={
            "partner_id": partner_id,
            "organisation": "expiry test",
            "allowed_kinds": ["arrears"],
            "rate_limit_per_minute": 60,
        },
        headers=SERVICE,
    )
    assert created.status_code == 201, created.text
    issued = registry.client.post(
        f"/v1/partners/{partner_id}/keys",
        json={"label": "t", "expires_at": expires_at.isoformat()},
        headers=SERVICE,
    )
    assert issued.status_code == 201, issued.text
    key: str = issued.json()["api_key"]
    return key


def _verify(registry: Registry, key: str) -> int:
    return registry.client.post(
        "/internal/v1/partner-keys/verify", headers=SERVICE, json={"api_key": key}
    ).status_code


def test_a_key_expires_by_the_wall_clock_not_the_accelerated_service_clock(
    ahead: Registry,
) -> None:
    real = datetime.now(UTC)
    valid = _key(ahead, "wall-valid", real + timedelta(days=30))
    expired = _key(ahead, "wall-expired", real - timedelta(minutes=1))
    assert _verify(ahead, valid) == 200  # the service clock says 2 years later: irrelevant
    assert _verify(ahead, expired) == 401


def _lookup(registry: Registry, **body: Any) -> Any:
    response = registry.client.post(
        "/internal/v1/reporter-lookups",
        headers=SERVICE,
        json={"invitation_id": "INV-ABCDEFGH2345", "reporter_role": "meter_reader", **body},
    )
    assert response.status_code == 200, response.text
    return response.json()


def _audit(registry: Registry, subject: str) -> list[dict[str, Any]]:
    rows = registry.client.get("/v1/audit", headers=SERVICE, params={"subject": subject}).json()
    return [r for r in rows if r["action"] == "household.reporter_lookup"]


def test_a_reporter_lookup_is_audited_with_the_invitation_and_the_household_never_the_phone(
    ahead: Registry,
) -> None:
    household = ahead.household(
        people=[{"relation": "resident", "name": "김시험", "phone": "010-4242-9191"}]
    )
    found = _lookup(ahead, lookup_kind="phone", value="010-4242-9191")
    assert found == {"matched": True, "household_id": household, "dong_code": "1111051500"}
    [row] = _audit(ahead, household)
    assert row["actor"] == "invitation:INV-ABCDEFGH2345"
    assert row["detail"]["invitation"] == "INV-ABCDEFGH2345"
    assert row["detail"]["reporter_role"] == "meter_reader"
    assert row["detail"]["matched"] is True
    assert "4242" not in str(row) and "9191" not in str(row)

    nobody = _lookup(ahead, lookup_kind="phone", value="010-9999-0001")
    assert nobody == {"matched": False, "household_id": None, "dong_code": None}
    missed = [r for r in _audit(ahead, "none") if "9999" not in str(r)]
    assert missed and missed[0]["detail"]["matched"] is False
    assert all("0001" not in str(r) for r in _audit(ahead, "none"))

    by_id = _lookup(ahead, lookup_kind="household_id", value=household)
    assert by_id["matched"] and by_id["household_id"] == household
    assert len(_audit(ahead, household)) == 2


def test_only_services_look_up_for_reporters(ahead: Registry) -> None:
    response = ahead.client.post(
        "/internal/v1/reporter-lookups",
        json={
            "invitation_id": "INV-ABCDEFGH2345",
            "reporter_role": "shop",
            "lookup_kind": "phone",
            "value": "010-1111-2222",
        },
    )
    assert response.status_code == 401
