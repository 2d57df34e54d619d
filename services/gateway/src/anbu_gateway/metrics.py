"""The gateway's Prometheus metrics (served on ``/metrics`` with the runtime's own)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

SIGNALS = Counter(
    "anbu_gateway_signals_total",
    "Partner records by kind, partner, channel (single, batch, file, form) and outcome "
    "(accepted, duplicate, rejected).",
    ["kind", "partner", "channel", "outcome"],
)
RATE_LIMITED = Counter(
    "anbu_gateway_rate_limited_total",
    "Requests refused with 429 (or 413 for a batch larger than the limit), by partner.",
    ["partner"],
)
AUTH_REFUSED = Counter(
    "anbu_gateway_auth_refused_total",
    "Requests refused for a missing or invalid key (401) or a kind outside its scope (403).",
    ["reason"],
)
FILE_ROWS = Counter(
    "anbu_gateway_file_rows_total",
    "CSV rows processed by the file workers, by kind; rate() gives rows per second.",
    ["kind"],
)
FILE_ROWS_PER_SECOND = Gauge(
    "anbu_gateway_file_rows_per_second",
    "Rows per second of the most recent chunk processed by a file worker.",
)
FILE_PACED_SECONDS = Counter(
    "anbu_gateway_file_paced_seconds_total",
    "Seconds file workers waited for the partner's rate limit.",
)
SUBMISSIONS = Gauge(
    "anbu_gateway_submissions",
    "File submissions by state (refreshed every few seconds).",
    ["state"],
)
SUBMISSION_TRANSITIONS = Counter(
    "anbu_gateway_submission_transitions_total",
    "File submissions entering a state.",
    ["state"],
)
RECONCILED = Counter(
    "anbu_gateway_reconciled_records_total",
    "Records found pending after a crash, by result (found_on_topic, republished).",
    ["result"],
)
REPORTS = Counter(
    "anbu_gateway_reports_total",
    "Reporter-form reports by category and state (published, pending, unmatched).",
    ["category", "state"],
)
PUBLISH_SECONDS = Histogram(
    "anbu_gateway_publish_seconds",
    "Time to publish one chunk of records and get every acknowledgement (acks=all).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
REGISTRY_FAILURES = Counter(
    "anbu_gateway_registry_failures_total",
    "Key verifications the registry could not answer (requests got 503).",
)
