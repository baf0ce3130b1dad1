"""Checking the API's RFC 9457 problem answers."""

from __future__ import annotations

from typing import Any

import httpx

PROBLEM_MEDIA_TYPE = "application/problem+json"


def assert_problem(
    response: httpx.Response, status: int, code: str, **context: Any
) -> dict[str, Any]:
    """``response`` is the problem ``status``/``code``, with these context values; a 401
    also names the Bearer scheme. Returns the problem body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert body["status"] == status
    for name, value in context.items():
        assert body.get("context", {}).get(name) == value, body
    if status == 401:
        assert response.headers.get("www-authenticate") == "Bearer", response.headers
    return body


def field_errors(response: httpx.Response) -> set[str]:
    """Where in the request a 422 says the mistakes are (``body.amount``, ``query.limit``)."""
    return {error["field"] for error in response.json()["errors"]}
