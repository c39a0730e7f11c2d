"""Bot API failures in the door's terms, and the matching both runtimes share.

Each runtime names its library's exception classes once (which class means which kind);
what a failure's description adds (a message not modified, a message gone) is read here,
so aiogram and python-telegram-bot cannot drift apart.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class ApiErrorKind(enum.StrEnum):
    """What the door does about a failed Bot API call."""

    RETRY = "retry"  # 429: wait `retry_after`, then try again
    BLOCKED = "blocked"  # 403: the user blocked the bot; send them nothing more
    SERVER = "server"  # 5xx or an unreadable answer: retry with backoff
    NETWORK = "network"  # no answer at all: retry with backoff
    NOT_MODIFIED = "not_modified"  # the message already shows this: success
    NOT_FOUND = "not_found"  # the message is gone or too old to edit
    BAD = "bad"  # refused as it is (often our HTML): do not retry unchanged


class ApiError(Exception):
    """A Bot API call failed; `kind` says what the door should do about it."""

    def __init__(
        self, kind: ApiErrorKind, description: str = "", retry_after: float | None = None
    ) -> None:
        super().__init__(f"{kind}: {description}")
        self.kind = kind
        self.description = description
        self.retry_after = retry_after


def api_error(kind: ApiErrorKind, description: str, retry_after: float | None = None) -> ApiError:
    """An ApiError of `kind`, made more exact from Telegram's description for a refused
    request (the status alone does not say that the message was unchanged or gone)."""
    if kind in (ApiErrorKind.BAD, ApiErrorKind.NOT_FOUND):
        lowered = description.lower()
        if "message is not modified" in lowered:
            kind = ApiErrorKind.NOT_MODIFIED
        elif "not found" in lowered or "can't be edited" in lowered:
            kind = ApiErrorKind.NOT_FOUND
    return ApiError(kind, description, retry_after)


def classify(
    exc: Exception, kinds: tuple[tuple[type[Exception], ApiErrorKind], ...]
) -> ApiErrorKind | None:
    """The kind of the first class in `kinds` that `exc` is an instance of (order matters:
    a library's subclasses come before their bases)."""
    return next((kind for cls, kind in kinds if isinstance(exc, cls)), None)


async def api_call(
    call: Callable[[], Awaitable[T]], translate: Callable[[Exception], ApiError | None]
) -> T:
    """Await a library call; a failure `translate` knows becomes an ApiError."""
    try:
        return await call()
    except Exception as exc:
        error = translate(exc)
        if error is None:
            raise
        raise error from None
