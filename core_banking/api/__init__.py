"""The HTTP face of Nexum: ``uvicorn core_banking.api:app``."""

from core_banking.api.app import create_app

app = create_app()

__all__ = ["app", "create_app"]
