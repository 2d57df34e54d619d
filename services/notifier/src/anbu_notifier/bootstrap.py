"""Wire the notifier: settings, database, channels, templates, registry client, consumer."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from pydantic_settings import SettingsConfigDict

from anbu_contracts.notify import Channel as ChannelName
from anbu_contracts.topics import NOTIFY_STATUS
from anbu_runtime.clock import Clock
from anbu_runtime.service import ServiceRuntime
from anbu_runtime.settings import CommonSettings, ServiceSettings

from .adapters.channels import Channel, ConsoleSink
from .adapters.orm import metadata
from .adapters.registry_client import RegistryClient
from .domain.rendering import Renderer
from .entrypoints import consumers
from .handlers import Notifier

NAME = "notifier"


class NotifierSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ANBU_NOTIFIER_", extra="ignore")

    http_port: int = 8705
    default_channel: ChannelName = ChannelName.CONSOLE
    sink_path: Path | None = None


def create(
    common: CommonSettings | None = None,
    settings: NotifierSettings | None = None,
    clock: Clock | None = None,
) -> tuple[ServiceRuntime, FastAPI]:
    common = common or CommonSettings()
    settings = settings or NotifierSettings()
    runtime = ServiceRuntime(NAME, common, settings, metadata, clock=clock)
    sink = ConsoleSink(settings.sink_path or common.var_dir / "notifier" / "sink.jsonl")
    channels: dict[ChannelName, Channel] = {ChannelName.CONSOLE: sink}
    registry = RegistryClient(common.registry_url, common.service_token)
    notifier = Notifier(runtime, registry, Renderer(), channels, settings.default_channel)
    consumers.register(runtime, notifier)
    runtime.on_shutdown(registry.close)
    runtime.declare_publications(NOTIFY_STATUS)
    return runtime, runtime.build_app(
        "anbu notifier", "Delivers messages: SMS, alert messages, e-mail, webhooks."
    )
