"""Benchmarks: Nexum measured against a reference run side by side, on the same machine."""
