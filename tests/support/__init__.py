"""Shared test support: databases, a controllable clock, and short ways to set up a bank."""
