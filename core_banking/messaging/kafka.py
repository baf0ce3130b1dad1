"""Publishing to Kafka with confluent-kafka's idempotent producer.

``enable.idempotence`` makes the broker drop duplicates of a retried send and keeps the
order of messages within a partition, which is what "in order per account" rests on
(messages of one account share a key, hence a partition). The producer is blocking C code
with its own threads; each batch is produced and flushed in a worker thread, bounded by
the delivery timeout, so the event loop never waits on the broker.

A broker that lost its state (a restart of a broker without durable storage, or a cluster
rebuilt) makes the idempotent producer fail fatally ("unknown producer id"): it can no
longer retry without risking duplicates. The publisher then replaces it with a fresh one;
what was not acknowledged is still in the outbox and is sent again by the new producer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer

from core_banking.domain.events import EventMessage

DELIVERY_TIMEOUT_SECONDS = 10.0
"""How long one batch may wait for the broker before its rest is left for the next cycle."""
METADATA_TIMEOUT_SECONDS = 1.5
"""Within the health check's own bound, so a missing broker reads as 0, not a timeout."""
_NOT_YET = object()
logger = logging.getLogger("core_banking.kafka")


class KafkaPublisher:
    def __init__(
        self,
        bootstrap_servers: Sequence[str],
        topic_prefix: str,
        *,
        client_id: str = "nexum",
        delivery_timeout_seconds: float = DELIVERY_TIMEOUT_SECONDS,
    ) -> None:
        self._prefix = topic_prefix
        self._delivery_timeout = delivery_timeout_seconds
        self._config = {
            "bootstrap.servers": ",".join(bootstrap_servers),
            "client.id": client_id,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            "message.timeout.ms": int(delivery_timeout_seconds * 1000),
            "socket.connection.setup.timeout.ms": 5000,
            "reconnect.backoff.max.ms": 5000,
            "logger": logger,  # librdkafka's own messages, through Nexum's logging
            "error_cb": self._on_error,
        }
        self._failed_fatally = False
        self._producer = Producer(self._config)

    def _on_error(self, error: KafkaError) -> None:
        if error.fatal():
            self._failed_fatally = True

    def topic(self, message: EventMessage) -> str:
        return f"{self._prefix}.{message.topic.value}"

    async def publish(self, messages: Sequence[EventMessage]) -> int:
        return await asyncio.to_thread(self._publish, messages)

    def _publish(self, messages: Sequence[EventMessage]) -> int:
        outcomes: list[Any] = [_NOT_YET] * len(messages)

        def recorder(index: int) -> Any:
            def delivered(error: KafkaError | None, _message: Any) -> None:
                outcomes[index] = error

            return delivered

        try:
            for index, message in enumerate(messages):
                self._produce(message, recorder(index))
        except KafkaException as exc:  # refused outright: what was queued still counts
            self._note(exc)
        try:
            self._producer.flush(self._delivery_timeout)
        except KafkaException as exc:
            self._note(exc)
        if self._failed_fatally:
            self._renew_producer()
        for index, outcome in enumerate(outcomes):
            if outcome is not None:  # an error, or no answer in time
                return index
        return len(messages)

    def _note(self, exc: KafkaException) -> None:
        error = exc.args[0]
        logger.error("Kafka refused the batch: %s", error)
        if isinstance(error, KafkaError) and error.fatal():
            self._failed_fatally = True

    def _renew_producer(self) -> None:
        logger.warning("The Kafka producer failed fatally; starting a new one")
        self._producer.purge()
        self._failed_fatally = False
        self._producer = Producer(self._config)

    def _produce(self, message: EventMessage, on_delivery: Any) -> None:
        while True:
            try:
                self._producer.produce(
                    self.topic(message),
                    key=message.key.encode(),
                    value=message.body().encode(),
                    headers=[
                        ("event_id", str(message.event_id).encode()),
                        ("event_type", message.event_type.encode()),
                    ],
                    on_delivery=on_delivery,
                )
                return
            except BufferError:  # the local queue is full: let deliveries drain it
                self._producer.poll(0.1)

    async def brokers_connected(self) -> int:
        return await asyncio.to_thread(self._brokers_connected)

    def _brokers_connected(self) -> int:
        try:
            metadata = self._producer.list_topics(timeout=METADATA_TIMEOUT_SECONDS)
        except KafkaException:
            return 0
        return len(metadata.brokers)

    async def close(self) -> None:
        await asyncio.to_thread(self._producer.flush, self._delivery_timeout)
