"""Adapters to message brokers: the event relay's way out (Kafka)."""
