"""Wire the notifier: settings, database, channels, templates, registry client, consumer,
dispatcher and HTTP routes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI
from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from anbu_contracts.notify import Channel as ChannelName
from anbu_contracts.topics import NOTIFY_STATUS
from anbu_runtime.clock import Clock
from anbu_runtime.service import ServiceRuntime
from anbu_runtime.settings import CommonSettings, ServiceSettings

from .adapters.channels import Channel, ConsoleSink
from .adapters.http_provider import HttpProviderChannel
from .adapters.migrations import MIGRATIONS
from .adapters.orm import metadata
from .adapters.registry_client import Directory, RegistryClient
from .adapters.repository import NotifierRepository
from .adapters.smtp import SmtpChannel, Tls
from .adapters.throttle import ChannelGate
from .adapters.webhooks import Endpoint, WebhookChannel
from .domain.rendering import Renderer
from .domain.retry import RetryPolicy
from .domain.routing import FALLBACK_ORDER
from .entrypoints import consumers, http
from .entrypoints.dispatcher import Dispatcher
from .handlers import Notifier, Routing, Sender, Timing, steps
from .views import Views

NAME = "notifier"


class HttpGatewaySettings(BaseModel):
    """An SMS or alert-message (알림톡) gateway speaking the protocol in docs/notifier.md."""

    base_url: str
    api_key: SecretStr
    sender: str = Field(description="Sender number (SMS) or sender profile key (알림톡).")
    receipt_secret: SecretStr | None = Field(
        default=None, description="Shared secret of the gateway's signed delivery receipts."
    )
    timeout_s: float = Field(default=5.0, gt=0)
    rate_per_second: float | None = Field(default=None, gt=0)
    burst: int = Field(default=10, ge=1)
    template_codes: dict[str, str] = Field(
        default_factory=dict,
        description="알림톡 only: notification template → the provider's approved template code.",
    )


class SmtpSettings(BaseModel):
    host: str
    port: int = 587
    username: str | None = None
    password: SecretStr | None = None
    sender: str = Field(description="The From address, e.g. 'anbu <noreply@example.go.kr>'.")
    tls: Tls = "starttls"
    timeout_s: float = Field(default=10.0, gt=0)
    rate_per_second: float | None = Field(default=None, gt=0)
    burst: int = Field(default=5, ge=1)


class WebhookSettings(BaseModel):
    url: str
    secret: SecretStr


class NotifierSettings(ServiceSettings):
    """``ANBU_NOTIFIER_*`` variables; nested values as JSON (``ANBU_NOTIFIER_SMS='{...}'``)
    or one by one with ``__`` (``ANBU_NOTIFIER_SMS__BASE_URL``)."""

    model_config = SettingsConfigDict(
        env_prefix="ANBU_NOTIFIER_", env_nested_delimiter="__", extra="ignore"
    )

    http_port: int = 8705
    # Channels: the console sink alone is the embedded default, so `make run` needs nothing.
    enabled_channels: list[ChannelName] = Field(default_factory=lambda: [ChannelName.CONSOLE])
    default_channel: ChannelName = ChannelName.CONSOLE
    fallback_order: list[ChannelName] = Field(default_factory=lambda: list(FALLBACK_ORDER))
    sink_path: Path | None = None
    sms: HttpGatewaySettings | None = None
    alimtalk: HttpGatewaySettings | None = None
    smtp: SmtpSettings | None = None
    liaisons: dict[str, WebhookSettings] = Field(
        default_factory=dict, description="police_liaison / fire_liaison → signed webhook."
    )
    webhook_timeout_s: float = Field(default=5.0, gt=0)
    # Retries of temporary failures on one channel, before falling back to the next.
    retry_attempts: int = Field(default=5, ge=1)
    retry_base_s: float = Field(default=0.5, gt=0)
    retry_max_s: float = Field(default=30.0, gt=0)
    retry_budget_s: float = Field(default=120.0, gt=0)
    # The dispatcher.
    # Requests delivered at once: sends wait on the network, and their state changes share
    # group transactions, so a wider window than one-at-a-time pays; much wider only
    # queues at the gateway (256 left a local gateway unable to answer anything else).
    concurrency: int = Field(default=64, ge=1)
    poll_s: float = Field(default=1.0, gt=0)
    claim_lease_s: float = Field(default=300.0, gt=0)
    registry_retry_s: float = Field(default=30.0, gt=0)
    registry_give_up_s: float = Field(default=3600.0, gt=0)
    receipt_tolerance_s: float = Field(default=300.0, gt=0)
    # How often receipts that passed the commit of their own send are looked for.
    receipt_sweep_s: float = Field(default=1.0, gt=0)
    consumer_group: str = "notifier"

    def gateways(self) -> dict[ChannelName, HttpGatewaySettings | None]:
        return {ChannelName.SMS: self.sms, ChannelName.ALIMTALK: self.alimtalk}

    @model_validator(mode="after")
    def _enabled_channels_are_configured(self) -> NotifierSettings:
        needs = {
            ChannelName.SMS: self.sms,
            ChannelName.ALIMTALK: self.alimtalk,
            ChannelName.EMAIL: self.smtp,
            ChannelName.WEBHOOK: self.liaisons or None,
        }
        missing = [c.value for c in self.enabled_channels if c in needs and needs[c] is None]
        if missing:
            raise ValueError(f"enabled channels without configuration: {', '.join(missing)}")
        return self


@dataclass
class Service:
    runtime: ServiceRuntime
    app: FastAPI
    notifier: Notifier
    dispatcher: Dispatcher


def _channels(
    common: CommonSettings, settings: NotifierSettings
) -> tuple[dict[ChannelName, Channel], dict[ChannelName, ChannelGate]]:
    channels: dict[ChannelName, Channel] = {
        ChannelName.CONSOLE: ConsoleSink(
            settings.sink_path or common.var_dir / "notifier" / "sink.jsonl"
        )
    }
    gates: dict[ChannelName, ChannelGate] = {ChannelName.CONSOLE: ChannelGate()}
    for name, gateway in settings.gateways().items():
        if gateway is not None:
            channels[name] = HttpProviderChannel(
                name,
                gateway.base_url,
                gateway.api_key.get_secret_value(),
                gateway.sender,
                timeout_s=gateway.timeout_s,
                template_codes=gateway.template_codes,
                connections=min(settings.concurrency, 200),
            )
            gates[name] = ChannelGate(gateway.rate_per_second, gateway.burst)
    if settings.smtp is not None:
        smtp = settings.smtp
        channels[ChannelName.EMAIL] = SmtpChannel(
            smtp.host,
            smtp.port,
            smtp.sender,
            username=smtp.username,
            password=smtp.password.get_secret_value() if smtp.password else None,
            tls=smtp.tls,
            timeout_s=smtp.timeout_s,
        )
        gates[ChannelName.EMAIL] = ChannelGate(smtp.rate_per_second, smtp.burst)
    if settings.liaisons:
        channels[ChannelName.WEBHOOK] = WebhookChannel(
            {
                name: Endpoint(hook.url, hook.secret.get_secret_value())
                for name, hook in settings.liaisons.items()
            },
            timeout_s=settings.webhook_timeout_s,
        )
        gates[ChannelName.WEBHOOK] = ChannelGate()
    return channels, gates


def build(
    common: CommonSettings | None = None,
    settings: NotifierSettings | None = None,
    clock: Clock | None = None,
    directory: Directory | None = None,
) -> Service:
    """The whole notifier, wired; ``directory`` replaces the registry client in tests."""
    common = common or CommonSettings()
    settings = settings or NotifierSettings()
    runtime = ServiceRuntime(NAME, common, settings, metadata, clock=clock, migrate=MIGRATIONS)
    channels, gates = _channels(common, settings)
    directory = directory or RegistryClient(common.registry_url, common.service_token)
    tx = runtime.transactions(NotifierRepository)
    renderer = Renderer()
    sender = Sender(
        steps(tx),
        runtime.clock,
        directory,
        renderer,
        channels,
        instance=common.instance_id,
        routing=Routing(
            enabled=tuple(settings.enabled_channels),
            default=settings.default_channel,
            fallback_order=tuple(settings.fallback_order),
        ),
        timing=Timing(
            retry=RetryPolicy(
                attempts=settings.retry_attempts,
                base_s=settings.retry_base_s,
                max_s=settings.retry_max_s,
                budget_s=settings.retry_budget_s,
            ),
            lease=timedelta(seconds=settings.claim_lease_s),
            registry_retry=timedelta(seconds=settings.registry_retry_s),
            registry_give_up=timedelta(seconds=settings.registry_give_up_s),
        ),
        gates=gates,
    )
    notifier = Notifier(tx, renderer, sender)
    dispatcher = Dispatcher(
        notifier, concurrency=settings.concurrency, poll_s=settings.poll_s, service=NAME
    )
    consumers.register(runtime, notifier, settings.consumer_group)
    runtime.add_background("dispatcher", dispatcher.run)
    runtime.every(
        settings.receipt_sweep_s, notifier.apply_overtaken_receipts, name="overtaken-receipts"
    )

    async def close() -> None:
        for channel in channels.values():
            await channel.close()
        await directory.close()

    runtime.on_shutdown(close)
    runtime.declare_publications(NOTIFY_STATUS)
    app = runtime.build_app(
        "anbu notifier", "Delivers messages: SMS, alert messages, e-mail, webhooks."
    )
    receipt_secrets = {
        name: gateway.receipt_secret.get_secret_value()
        for name, gateway in settings.gateways().items()
        if gateway is not None and gateway.receipt_secret is not None
    }
    app.include_router(
        http.router(notifier, Views(tx), receipt_secrets, settings.receipt_tolerance_s)
    )
    return Service(runtime, app, notifier, dispatcher)


def create(
    common: CommonSettings | None = None,
    settings: NotifierSettings | None = None,
    clock: Clock | None = None,
) -> tuple[ServiceRuntime, FastAPI]:
    service = build(common, settings, clock)
    return service.runtime, service.app
