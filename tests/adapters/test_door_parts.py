"""The Telegram door's parts on their own: both runtimes read Bot API failures alike, and
the door's `settled()` signal waits for exactly the updates in hand."""

from __future__ import annotations

import asyncio

import pytest
import telegram.error as ptb
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import SendMessage

from bot.adapters import aiogram_runtime, ptb_runtime
from bot.adapters.telegram import ApiErrorKind
from bot.adapters.telegram.progress import Progress

METHOD = SendMessage(chat_id=1, text="x")


@pytest.mark.parametrize(
    ("aiogram_error", "ptb_error", "kind"),
    [
        (
            TelegramRetryAfter(METHOD, "Too Many Requests: retry after 3", 3),
            ptb.RetryAfter(3),
            ApiErrorKind.RETRY,
        ),
        (
            TelegramForbiddenError(METHOD, "Forbidden: bot was blocked by the user"),
            ptb.Forbidden("Forbidden: bot was blocked by the user"),
            ApiErrorKind.BLOCKED,
        ),
        (
            TelegramBadRequest(METHOD, "Bad Request: message is not modified: same content"),
            ptb.BadRequest("Bad Request: message is not modified: same content"),
            ApiErrorKind.NOT_MODIFIED,
        ),
        (
            TelegramBadRequest(METHOD, "Bad Request: message to edit not found"),
            ptb.BadRequest("Bad Request: message to edit not found"),
            ApiErrorKind.NOT_FOUND,
        ),
        (
            TelegramBadRequest(METHOD, "Bad Request: message can't be edited"),
            ptb.BadRequest("Bad Request: message can't be edited"),
            ApiErrorKind.NOT_FOUND,
        ),
        (
            TelegramBadRequest(METHOD, "Bad Request: can't parse entities: unclosed tag"),
            ptb.BadRequest("Bad Request: can't parse entities: unclosed tag"),
            ApiErrorKind.BAD,
        ),
        (
            TelegramServerError(METHOD, "Bad Gateway"),
            ptb.NetworkError("Bad Gateway"),
            ApiErrorKind.SERVER,
        ),
        (
            TelegramNetworkError(METHOD, "connection reset"),
            ptb.TimedOut(),
            ApiErrorKind.NETWORK,
        ),
    ],
)
def test_both_runtimes_read_a_failure_as_the_same_kind(
    aiogram_error: Exception, ptb_error: Exception, kind: ApiErrorKind
) -> None:
    from_aiogram = aiogram_runtime.error_kind(aiogram_error)
    from_ptb = ptb_runtime.error_kind(ptb_error)
    assert from_aiogram is not None and from_aiogram.kind is kind
    assert from_ptb is not None and from_ptb.kind is kind
    if kind is ApiErrorKind.RETRY:
        assert from_aiogram.retry_after == from_ptb.retry_after == 3.0


def test_a_bug_in_our_code_is_not_a_bot_api_failure() -> None:
    assert aiogram_runtime.error_kind(KeyError("x")) is None
    assert ptb_runtime.error_kind(KeyError("x")) is None


async def test_settled_waits_for_the_update_named_and_for_every_one_in_hand() -> None:
    progress = Progress()
    await asyncio.wait_for(progress.settled(), 1)  # nothing taken in: settled at once
    waiting = asyncio.create_task(progress.settled(through=11))
    progress.took(10)
    progress.done()
    await asyncio.sleep(0)
    assert not waiting.done()  # update 11 not taken in yet
    progress.took(11)
    progress.took(12)
    progress.done()
    await asyncio.sleep(0)
    assert not waiting.done()  # one update still in hand
    progress.done()
    await asyncio.wait_for(waiting, 1)
    assert (progress.received, progress.finished, progress.in_hand) == (3, 3, 0)
