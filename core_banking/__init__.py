"""Nexum core banking: customers, deposit accounts and a double-entry ledger you can trust."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("nexum-core-banking")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"

__all__ = ["__version__"]
