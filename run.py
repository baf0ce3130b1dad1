"""Start the Nexum API server as configured (``python run.py``): NEXUM_API_HOST, _PORT,
_WORKERS, _TIMEOUT (each request's deadline and the graceful-shutdown wait) and
_MAX_REQUEST_SIZE (enforced by the application), logging as NEXUM_LOG_* say.

With several workers, each process writes its Prometheus samples to a directory of its own
run (PROMETHEUS_MULTIPROC_DIR) so that /metrics answers for the whole server.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile

import uvicorn

from core_banking.config import ConfigError, get_config


def main() -> None:
    try:
        config = get_config()
    except ConfigError as exc:
        sys.stderr.write(f"{exc}\n")
        raise SystemExit(2) from None
    metrics_dir = None
    if config.api_workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        metrics_dir = tempfile.mkdtemp(prefix="nexum-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    try:
        uvicorn.run(
            "core_banking.api:app",
            host=config.api_host,
            port=config.api_port,
            workers=config.api_workers,
            timeout_graceful_shutdown=config.api_timeout,
            log_config=None,
            access_log=False,
            server_header=False,
        )
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
