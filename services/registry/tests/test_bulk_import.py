"""Bulk enrolment from CSV: per-row report, all-or-nothing per batch, dry run."""

from __future__ import annotations

from .conftest import Registry

HEADER = (
    "district_code,dong_code,tier,channels,resident_name,resident_phone,landlord_name,medical_aid\n"
)


def csv_of(rows: list[str]) -> bytes:
    return (HEADER + "".join(r + "\n" for r in rows)).encode("utf-8")


def good(n: int) -> str:
    return f"11110,1111054000,caution,phone;smart_plug,주민{n},010-0000-{5000 + n:04d},집주인{n},예"


def upload(registry: Registry, body: bytes, **params: object) -> dict[str, object]:
    response = registry.client.post(
        "/v1/imports/households",
        headers=registry.service,
        params=params,
        files={"file": ("list.csv", body, "text/csv")},
    )
    assert response.status_code == 200, response.text
    report: dict[str, object] = response.json()
    return report


def count_in_dong(registry: Registry) -> int:
    params = {"dong_code": "1111054000", "limit": 1, "with_total": "true"}
    page = registry.client.get("/v1/households", headers=registry.service, params=params).json()
    return int(page["total"])


def test_a_dry_run_reports_every_invalid_row_and_writes_nothing(registry: Registry) -> None:
    before = count_in_dong(registry)
    body = csv_of(
        [
            good(1),
            "11110,1111054000,extreme,phone,주민,010-1,,",
            good(2),
            "11110,2611054000,watch,,주민,,,",
        ]
    )
    report = upload(registry, body, dry_run="true")
    assert (report["rows"], report["valid"], report["invalid"], report["imported"]) == (4, 2, 2, 0)
    errors = {e["line"]: e["errors"] for e in report["errors"]}  # type: ignore[union-attr]
    assert set(errors) == {3, 5}  # file lines (the header is line 1)
    assert any("tier" in e for e in errors[3])
    assert any("not in district" in e for e in errors[5])
    assert count_in_dong(registry) == before


def test_a_batch_with_an_invalid_row_is_written_not_at_all_and_other_batches_are(
    registry: Registry,
) -> None:
    before = count_in_dong(registry)
    rows = [
        good(10),
        good(11),
        "11110,1111054000,watch,teleport,주민,,,",
        good(12),
        good(13),
        good(14),
    ]
    report = upload(registry, csv_of(rows), batch_size=3)
    assert report["batches"] == 2 and report["batches_rejected"] == 1
    assert report["imported"] == 3  # the second batch (rows 12–14)
    assert count_in_dong(registry) == before + 3


def test_a_file_without_the_required_columns_is_refused_with_a_problem(registry: Registry) -> None:
    response = registry.client.post(
        "/v1/imports/households",
        headers=registry.service,
        files={"file": ("x.csv", b"name,phone\n", "text/csv")},
    )
    assert response.status_code == 400
    assert "district_code" in response.json()["detail"]
