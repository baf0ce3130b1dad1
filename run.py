"""Start the Nexum API server as NEXUM_API_HOST, _PORT and _WORKERS say (``python run.py``)."""

from __future__ import annotations

import sys

import uvicorn

from core_banking.config import ConfigError, get_config


def main() -> None:
    try:
        config = get_config()
    except ConfigError as exc:
        sys.stderr.write(f"{exc}\n")
        raise SystemExit(2) from None
    uvicorn.run(
        "core_banking.api:app",
        host=config.api_host,
        port=config.api_port,
        workers=config.api_workers,
        timeout_graceful_shutdown=config.api_timeout,
        log_level=config.log_level.value.lower(),
    )


if __name__ == "__main__":
    main()
