"""The notifier's Prometheus metrics (served on ``/metrics`` with the runtime's own)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

DELIVERIES = Counter(
    "anbu_notifier_deliveries_total",
    "Per-recipient message outcomes by channel: sent, delivered, failed, retried, "
    "rate_limited, fallback, deferred.",
    ["channel", "status"],
)
REQUESTS = Counter(
    "anbu_notifier_requests_total",
    "Request-level statuses published (queued, sent, delivered, failed) and requests "
    "refused as duplicates or contract violations (duplicate, rejected).",
    ["status"],
)
SEND_SECONDS = Histogram(
    "anbu_notifier_send_seconds",
    "Latency of one provider call, by channel and result (ok, temporary, permanent).",
    ["channel", "result"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
RECEIPTS = Counter(
    "anbu_notifier_receipts_total",
    "Delivery receipts by provider and result (applied, held, duplicate, refused).",
    ["provider", "result"],
)
REGISTRY_FAILURES = Counter(
    "anbu_notifier_registry_failures_total",
    "Recipient resolutions the registry could not answer (retried later).",
)
