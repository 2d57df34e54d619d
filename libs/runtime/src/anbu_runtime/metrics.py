"""Prometheus metrics every service exposes on ``/metrics``."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

MESSAGES_CONSUMED = Counter(
    "anbu_messages_consumed_total",
    "Kafka records handled, by topic and result (ok, duplicate, dead_letter, retried).",
    ["service", "topic", "result"],
)
DEAD_LETTERS = Counter(
    "anbu_dead_letters_total",
    "Records sent to a dead-letter topic, by source topic and reason class.",
    ["service", "topic", "reason"],
)
HANDLER_SECONDS = Histogram(
    "anbu_handler_seconds",
    "Time spent handling one Kafka record, by topic.",
    ["service", "topic"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
CONSUMER_LAG = Gauge(
    "anbu_consumer_lag",
    "Records between the last handled offset and the partition's high watermark.",
    ["service", "topic", "partition"],
)
EVENTS_PUBLISHED = Counter(
    "anbu_events_published_total",
    "Records published (acknowledged by the broker), by topic.",
    ["service", "topic"],
)
OUTBOX_PENDING = Gauge(
    "anbu_outbox_pending",
    "Outbox rows waiting to be published.",
    ["service"],
)
HTTP_REQUESTS = Counter(
    "anbu_http_requests_total",
    "HTTP requests served, by route and status code.",
    ["service", "route", "status"],
)
HTTP_SECONDS = Histogram(
    "anbu_http_request_seconds",
    "HTTP request latency, by route.",
    ["service", "route"],
)
