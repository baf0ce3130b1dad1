"""Adapters to shared caches: Redis, behind the SharedCache port."""
