"""The partners' ingest API (single signals; batches, files and the reporter form follow)."""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header
from pydantic import BaseModel, ValidationError

from anbu_contracts import SIGNAL_TOPICS, SignalKind
from anbu_runtime.problems import Problem
from anbu_runtime.service import ServiceRuntime

from ..ingest import WrongPartner, to_signal


class Accepted(BaseModel):
    event_id: str
    topic: str
    partition_key: str


class PartnerKeys:
    """Partner API keys, held as SHA-256 digests; compared in constant time."""

    def __init__(self, setting: str) -> None:
        self._digests: dict[str, str] = {}
        for item in filter(None, (p.strip() for p in setting.split(","))):
            partner_id, key = item.split(":", 1)
            self._digests[hashlib.sha256(key.encode()).hexdigest()] = partner_id

    def partner_for(self, key: str | None) -> str:
        if key:
            digest = hashlib.sha256(key.encode()).hexdigest()
            for known, partner_id in self._digests.items():
                if hmac.compare_digest(known, digest):
                    return partner_id
        raise Problem(
            401,
            "Unauthorized",
            "a valid X-Api-Key header is required",
            type_="unauthenticated",
            headers={"WWW-Authenticate": "ApiKey"},
        )


def router(runtime: ServiceRuntime, keys: PartnerKeys) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["ingest"])

    @api.post(
        "/signals",
        status_code=202,
        response_model=Accepted,
        summary="Submit one signal; answered after the broker acknowledged it (acks=all)",
    )
    async def submit(
        body: Annotated[
            dict[str, Any], Body(description="A signal of any kind; see contracts/schemas.")
        ],
        x_api_key: Annotated[str | None, Header()] = None,
    ) -> Accepted:
        partner_id = keys.partner_for(x_api_key)
        try:
            signal = to_signal(body, partner_id, runtime.clock.now())
        except WrongPartner as exc:
            raise Problem(403, "Forbidden", str(exc), type_="wrong-partner") from exc
        except ValidationError as exc:
            raise Problem(
                422,
                "Signal does not match its contract",
                f"{exc.error_count()} validation error(s)",
                type_="invalid-signal",
                extensions={
                    "errors": [
                        {"location": list(e["loc"]), "message": e["msg"], "type": e["type"]}
                        for e in exc.errors(include_url=False)
                    ]
                },
            ) from exc
        topic = SIGNAL_TOPICS[SignalKind(signal.kind)]
        await runtime.producer.publish(topic, signal)
        return Accepted(
            event_id=str(signal.event_id), topic=topic.name, partition_key=signal.household_id
        )

    return api
