"""Observability adapters: structured logs, Prometheus metrics, health checks, tracing."""
