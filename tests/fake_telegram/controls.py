"""Test-side controls of the fake server: users and groups, failure injection, records
and waiting."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from tests.fake_telegram.chats import FakeChat
from tests.fake_telegram.errors import WaitTimeout
from tests.fake_telegram.records import Call, Failure, StoredFile
from tests.fake_telegram.requests import _scope_key
from tests.fake_telegram.signals import _wait_on
from tests.fake_telegram.users import FakeUser
from tests.fake_telegram.values import _same_chat


class Controls:
    """Part of :class:`FakeTelegram` (see server.py)."""

    # users and chats ------------------------------------------------------------------

    @property
    def bot_user(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    def user(
        self,
        user_id: int,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
        is_premium: bool = False,
    ) -> FakeUser:
        """The user with this id (made on first use; later keyword arguments update it).
        Their private chat with the bot has ``chat_id == user_id``."""
        u = self._users.get(user_id)
        if u is None:
            u = FakeUser(
                self,
                user_id,
                first_name=first_name or f"User{user_id}",
                last_name=last_name,
                username=username,
                language_code=language_code,
                is_premium=is_premium,
            )
            self._users[user_id] = u
            self._chats[user_id] = u.chat
            return u
        if first_name is not None:
            u.first_name = first_name
        if last_name is not None:
            u.last_name = last_name
        if username is not None:
            u.username = username
        if language_code is not None:
            u.language_code = language_code
        if is_premium:
            u.is_premium = True
        return u

    @property
    def users(self) -> dict[int, FakeUser]:
        return self._users

    def group(self, chat_id: int, title: str | None = None) -> FakeChat:
        """The supergroup ``chat_id`` (made on first use)."""
        chat = self._chats.get(chat_id)
        if chat is None:
            chat = FakeChat(chat_id, "supergroup", title=title or f"Group {chat_id}")
            self._chats[chat_id] = chat
        elif title:
            chat.title = title
        return chat

    def chat(self, chat_id: int) -> FakeChat:
        """The chat with this id (KeyError when nobody made it)."""
        return self._chats[chat_id]

    def transcript(self, chat_id: int) -> str:
        return self._chats[chat_id].transcript()

    def group_message(
        self,
        chat_id: int,
        user_id: int,
        text: str,
        *,
        reply_to_message_id: int | None = None,
        title: str | None = None,
    ) -> dict[str, Any]:
        """User ``user_id`` writes ``text`` in supergroup ``chat_id``.  With privacy mode
        on (the default, as on Telegram) the bot only gets it when it is a command, a
        reply to the bot or mentions the bot; otherwise a ``privacy_mode`` note is kept."""
        self.group(chat_id, title)
        return self.user(user_id).send(
            text, chat_id=chat_id, reply_to_message_id=reply_to_message_id
        )

    def push_update(self, kind: str, obj: dict[str, Any], *, key: Any = None) -> int | None:
        """Queue a hand-made update ``{"update_id": N, kind: obj}``; returns N (``None``
        when the bot's allowed_updates leave it out)."""
        return self._enqueue(kind, obj, key)

    # failures ----------------------------------------------------------------------------

    def fail(
        self,
        method: str = "*",
        status: int = 429,
        *,
        retry_after: int | None = 1,
        times: int | None = 1,
        chat_id: int | str | None = None,
        description: str | None = None,
        body: str = "json",
    ) -> Failure:
        """Answer the next ``times`` requests to ``method`` (``"*"``: any; ``times=None``:
        until cancelled) with an error instead of running them.

        429 gives ``"Too Many Requests: retry after N"`` with ``parameters.retry_after``;
        403 ``"Forbidden: bot was blocked by the user"``; 5xx a JSON error, or with
        ``body="plain"``/``"html"`` a non-JSON page like a proxy's.  ``chat_id`` limits the
        rule to requests for that chat."""
        key = "*" if method == "*" else method.lower()
        rule = Failure(self, key, status, retry_after, times, chat_id, description, body)
        self._failures.setdefault(key, []).append(rule)
        return rule

    def clear_failures(self) -> None:
        self._failures.clear()

    def block(self, chat_id: int, *, notify: bool = False) -> None:
        """The user blocks the bot (or, for a group, removes it): every later send/edit to
        the chat answers 403 until :meth:`unblock`.  ``notify`` also queues the
        ``my_chat_member`` update Telegram sends."""
        self._blocked.add(chat_id)
        if notify:
            self._member_update(chat_id, "member", "kicked")

    def unblock(self, chat_id: int, *, notify: bool = False) -> None:
        self._blocked.discard(chat_id)
        if notify:
            self._member_update(chat_id, "kicked", "member")

    def outage(self, seconds: float, *, body: str = "json") -> None:
        """For ``seconds``, answer every request (getUpdates included, pending long polls
        too) with 502 Bad Gateway, and hold webhook deliveries.  ``body``: ``"json"``,
        ``"plain"`` or ``"html"``."""
        self._outage_until = time.monotonic() + seconds
        self._outage_body = body
        if self._poller is not None and not self._poller.done():
            self._poller.set_result("outage")

    @property
    def outage_active(self) -> bool:
        return time.monotonic() < self._outage_until

    def duplicate_next(self, times: int = 1) -> None:
        """Deliver each of the next ``times`` updates twice, with the same update_id."""
        self._duplicate_next += times

    # records -----------------------------------------------------------------------------

    def calls_to(self, method: str, **where: Any) -> list[Call]:
        """Recorded calls to ``method`` (any case), optionally filtered on params, e.g.
        ``calls_to("sendMessage", chat_id=42)``."""
        calls = self._calls_by_method.get(method.lower(), [])
        if not where:
            return list(calls)
        out = []
        for c in calls:
            p = c.params if c.params is not None else {"chat_id": c.chat_id}
            if all(k in p and _same_chat(p[k], v) for k, v in where.items()):
                out.append(c)
        return out

    def unanswered_callbacks(self) -> list[str]:
        """Ids of pressed callback queries the bot has not answered (yet)."""
        return [q for q in self._pressed if q not in self.callback_answers]

    def commands(
        self, scope: dict[str, Any] | str | None = None, language_code: str = ""
    ) -> list[dict[str, str]]:
        """The command list set for exactly this scope and language (like getMyCommands).
        ``scope`` is a BotCommandScope dict or a type name such as ``"all_private_chats"``."""
        if isinstance(scope, str):
            scope = {"type": scope}
        return list(self._commands.get((_scope_key(scope), language_code or ""), []))

    def visible_commands(
        self, user_id: int, chat_id: int | None = None, *, admin: bool = False
    ) -> list[dict[str, str]]:
        """The command menu user ``user_id`` sees in ``chat_id`` (default: the private
        chat), applying Telegram's order of scopes and the user's language."""
        user = self._users.get(user_id)
        lang = (user.language_code or "") if user else ""
        lang = lang.split("-")[0]
        if chat_id is None or chat_id == user_id:
            scopes: list[tuple[Any, ...]] = [
                ("chat", user_id),
                ("all_private_chats",),
                ("default",),
            ]
        else:
            scopes = [("chat_member", chat_id, user_id)]
            if admin:
                scopes.append(("chat_administrators", chat_id))
            scopes.append(("chat", chat_id))
            if admin:
                scopes.append(("all_chat_administrators",))
            scopes += [("all_group_chats",), ("default",)]
        for key in scopes:
            for lc in (lang, "") if lang else ("",):
                cmds = self._commands.get((key, lc))
                if cmds:
                    return list(cmds)
        return []

    def file(self, file_id: str) -> StoredFile:
        return self._files[file_id]

    @property
    def webhook_url(self) -> str:
        return self._webhook.url

    @property
    def pending_update_count(self) -> int:
        return self._wh_pending if self._webhook.url else len(self._queue)

    # waiting ------------------------------------------------------------------------------

    async def wait_until(self, predicate: Callable[[], Any], timeout: float = 5.0) -> Any:  # noqa: ASYNC109
        """Wait until ``predicate()`` (sync or async) is truthy; return its value.  It is
        checked after every request, update and webhook delivery."""
        return await _wait_on(
            self._signal,
            predicate,
            timeout,
            lambda: (
                f"predicate still false; last calls: "
                f"{[(c.method, c.status) for c in self.calls[-8:]]}"
            ),
        )

    async def idle(
        self,
        quiet: float = 0.3,
        timeout: float = 10.0,  # noqa: ASYNC109
        *,
        include_pending: bool = True,
    ) -> None:
        """Wait until the bot has made no request (other than an empty long poll) for
        ``quiet`` seconds, none is in flight and (``include_pending``) no update waits to be
        fetched or delivered."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            now = time.monotonic()
            busy = self._inflight > 0 or self._wh_inflight > 0
            if include_pending and not busy:
                if self._webhook.url:
                    busy = self._wh_pending > 0
                else:
                    busy = bool(self._queue) and self._queue[-1].update_id > self._last_returned_id
            quiet_for = now - self._last_activity
            if not busy and quiet_for >= quiet:
                return
            if loop.time() >= deadline:
                raise WaitTimeout(
                    f"bot not idle after {timeout}s (in flight: {self._inflight}, pending: "
                    f"{self.pending_update_count}, quiet for {quiet_for:.2f}s)"
                )
            step = 0.02 if busy else max(quiet - quiet_for, 0.005)
            await asyncio.sleep(min(step, max(deadline - loop.time(), 0.005)))
