"""Errors the fake answers with, and the ones it raises at the test."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A Bot API error answer: ``{"ok": false, "error_code": ..., "description": ...}``.

    Raise it from a handler registered with :meth:`FakeTelegram.register` to answer
    with an error.
    """

    def __init__(
        self, status: int, description: str, parameters: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"{status} {description}")
        self.status = status
        self.description = description
        self.parameters = parameters

    def payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        if self.parameters:
            out["parameters"] = self.parameters
        return out


class _RawHttpError(Exception):
    """An answer that is not Bot API JSON (a proxy's HTML or plain-text error page)."""

    def __init__(self, status: int, body: str, content_type: str) -> None:
        super().__init__(f"{status}")
        self.status = status
        self.body = body
        self.content_type = content_type


class HtmlParseError(ValueError):
    """Raised by :func:`parse_html` with Telegram's wording (without the
    ``"Bad Request: can't parse entities: "`` prefix)."""


class ButtonNotFound(LookupError):
    """:meth:`FakeUser.press` found no visible button with that callback data."""


class WaitTimeout(AssertionError):
    """A waiting helper gave up; the message says what the chat showed at that time."""


def _default_description(status: int) -> str:
    return {
        400: "Bad Request",
        401: "Unauthorized",
        403: "Forbidden",
        404: "Not Found",
        409: "Conflict",
        429: "Too Many Requests",
        500: "Internal Server Error",
        502: "Bad Gateway",
        503: "Service Unavailable",
        504: "Gateway Timeout",
    }.get(status, "Error")


def _raw_error(status: int, body: str) -> _RawHttpError:
    phrase = _default_description(status)
    if body == "html":
        page = (
            f"<html>\r\n<head><title>{status} {phrase}</title></head>\r\n<body>\r\n"
            f"<center><h1>{status} {phrase}</h1></center>\r\n<hr><center>nginx</center>\r\n"
            "</body>\r\n</html>\r\n"
        )
        return _RawHttpError(status, page, "text/html")
    return _RawHttpError(status, f"{status} {phrase}", "text/plain")
