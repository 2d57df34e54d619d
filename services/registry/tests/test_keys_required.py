"""Outside development the registry refuses to start without its personal-data keys
(it would otherwise seal with development keys generated under var/secrets)."""

from __future__ import annotations

from pathlib import Path

import pytest

from anbu_registry.bootstrap import RegistrySettings, create
from anbu_runtime.settings import CommonSettings, UnsafeSecrets

STRONG_TOKEN = "Zq0v8l3Jc2bN4uW7yX1kA9sD6fG5hJ8kL2mN4pQ7rS0t"
STRONG_SECRET = "p9Hk2Lm4Nq6Rs8Tu0Vw3Xy5Za7Bc9De1Fg3Hi5Jk7Lm9"
KEY = "k1:" + "Q" * 43 + "="


def _common(env: str, tmp_path: Path) -> CommonSettings:
    return CommonSettings(
        env=env, service_token=STRONG_TOKEN, auth_secret=STRONG_SECRET, var_dir=tmp_path
    )


def _settings(tmp_path: Path, **keys: str) -> RegistrySettings:
    return RegistrySettings(database_url=f"sqlite:///{tmp_path / 'registry.db'}", **keys)


def test_a_production_registry_without_personal_data_keys_refuses_to_start(
    tmp_path: Path,
) -> None:
    runtime, _ = create(_common("production", tmp_path), _settings(tmp_path))
    with pytest.raises(UnsafeSecrets) as refused:
        runtime.require_safe_secrets()
    assert "ANBU_REGISTRY_PII_KEYS" in str(refused.value)


def test_a_production_registry_with_its_keys_or_a_development_one_without_them_starts(
    tmp_path: Path,
) -> None:
    configured = _settings(tmp_path, pii_keys=KEY, blind_index_key="Q" * 43 + "=")
    runtime, _ = create(_common("production", tmp_path), configured)
    runtime.require_safe_secrets()
    runtime, _ = create(_common("dev", tmp_path / "dev"), _settings(tmp_path / "dev"))
    runtime.require_safe_secrets()


def test_the_published_all_zero_placeholder_keys_are_refused_in_production(
    tmp_path: Path,
) -> None:
    zero = "A" * 43 + "="  # deploy/compose.env.example
    placeholder = _settings(tmp_path, pii_keys=f"k1:{zero}", blind_index_key=zero)
    runtime, _ = create(_common("production", tmp_path), placeholder)
    with pytest.raises(UnsafeSecrets) as refused:
        runtime.require_safe_secrets()
    assert "all-zero placeholder" in str(refused.value)
    assert zero not in str(refused.value)
