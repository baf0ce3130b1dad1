"""Prometheus metrics with the deployment guide's names and labels.

With several worker processes (NEXUM_API_WORKERS > 1) every process writes its samples to
PROMETHEUS_MULTIPROC_DIR (run.py prepares one) and /metrics aggregates them, so the figures
are the service's, not one worker's.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from functools import lru_cache

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from core_banking.domain.ledger import JournalEntry
from core_banking.domain.money import Money
from core_banking.observability.logging import get_logger

_transactions_log = get_logger("core_banking.transactions")

REQUESTS = Counter("nexum_requests_total", "Total API requests", ["method", "endpoint"])
REQUEST_DURATION = Histogram(
    "nexum_request_duration_seconds",
    "Request processing time in seconds",
    ["method", "endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
TRANSACTIONS = Counter(
    "nexum_transactions_processed_total",
    "Money movements processed, by entry type and outcome (completed, refused)",
    ["type", "status"],
)
DATABASE_CONNECTIONS = Gauge(
    "nexum_database_connections",
    "Database connection pool, by state (active, idle)",
    ["state"],
    multiprocess_mode="livesum",
)
CACHE_HITS = Counter(
    "nexum_cache_hits_total", "Cache lookups, by cache and result (hit, miss)", ["cache", "result"]
)
AUDIT_EVENTS = Counter("nexum_audit_events_total", "Audit events written", ["action"])
ERRORS = Counter("nexum_errors_total", "Errors answered, by problem code", ["type"])
INVARIANT_VIOLATIONS = Gauge(
    "nexum_ledger_invariant_violations",
    "Ledger checks failing at the last periodic check (0 when the ledger is consistent)",
    multiprocess_mode="max",
)


EVENTS_PUBLISHED = Counter(
    "nexum_events_published_total", "Event messages the broker acknowledged, by topic", ["topic"]
)
OUTBOX_PENDING = Gauge(
    "nexum_outbox_pending_events",
    "Outbox rows waiting for the relay (sampled by the health check and the relay)",
    multiprocess_mode="max",
)


@lru_cache(maxsize=512)
def labelled[M: (Counter, Histogram)](metric: M, *values: str) -> M:
    """A metric's child for one set of label values (in the metric's label order), found
    once: ``labels()`` costs more than the increment, every request counts two, and an
    atomic batch counts every one of its entries."""
    return metric.labels(*values)


class PrometheusTelemetry:
    """What the services and storage report, counted and logged."""

    def posted(self, entry: JournalEntry, processing_time_ms: float) -> None:
        labelled(TRANSACTIONS, entry.entry_type.value, "completed").inc()
        if not _transactions_log.isEnabledFor(logging.INFO):
            return  # the line's fields would be built only to be dropped
        first = entry.lines[0]
        # The customer's side: customers' accounts have UUIDv7 ids, the bank's own UUIDv5.
        customer_line = next((line for line in entry.lines if line.account_id.version == 7), first)
        _transactions_log.info(
            "Transaction processed successfully",
            transaction_id=str(entry.id),
            type=entry.entry_type.value,
            account_id=str(customer_line.account_id),
            amount=Money.of(first.amount_minor, first.currency).amount_string(),
            currency=first.currency,
            processing_time_ms=round(processing_time_ms, 2),
        )

    def refused(self, entry_type: str, code: str) -> None:
        labelled(TRANSACTIONS, entry_type, "refused").inc()
        _transactions_log.info("Transaction refused", type=entry_type, code=code)

    def audited(self, actions: Sequence[str]) -> None:
        for action in actions:
            labelled(AUDIT_EVENTS, action).inc()

    def cache(self, name: str, hit: bool) -> None:
        labelled(CACHE_HITS, name, "hit" if hit else "miss").inc()

    def published(self, topics: Sequence[str]) -> None:
        for topic in topics:
            EVENTS_PUBLISHED.labels(topic=topic).inc()


def exposition() -> tuple[bytes, str]:
    """The text format of every metric, aggregated over worker processes when there are."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
