"""Handing updates to the bot: the getUpdates queue and the webhook with its retries."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections import deque
from typing import Any

import aiohttp

from tests.fake_telegram.chats import ChatMessage, FakeChat
from tests.fake_telegram.errors import ApiError, _raw_error
from tests.fake_telegram.html_entities import _command_entities
from tests.fake_telegram.limits import NOT_DEFAULT_UPDATES
from tests.fake_telegram.records import (
    Call,
    Note,
    StoredFile,
    UploadedFile,
    WebhookDelivery,
    _Described,
    _PressedQuery,
    _Update,
    _Webhook,
)
from tests.fake_telegram.requests import _coerce, _read_multipart
from tests.fake_telegram.users import FakeUser
from tests.fake_telegram.values import _as_bool, _as_int, _now


class Delivery:
    """Part of :class:`FakeTelegram` (see server.py)."""

    # ------------------------------------------------------------------ update machinery

    def _touch(self) -> None:
        self._last_activity = time.monotonic()

    def _enqueue(self, kind: str, obj: dict[str, Any], key: Any = None) -> int | None:
        allowed = self._allowed
        update_id = self._next_update_id
        self._next_update_id += 1
        payload = {"update_id": update_id, kind: obj}
        if (kind in NOT_DEFAULT_UPDATES) if allowed is None else (kind not in allowed):
            self.dropped_updates.append(payload)
            return None
        self.last_update_id = update_id
        if self.record:
            self.updates.append(payload)
        copies = 1
        if self._duplicate_next > 0:
            self._duplicate_next -= 1
            copies = 2
        for _ in range(copies):
            upd = _Update(update_id, payload, key)
            if self._webhook.url:
                self._wh_push(upd)
            else:
                self._queue.append(upd)
        self._updates_signal.fire()
        self._touch()
        self._signal.fire()
        return update_id

    def _confirm(self, offset: int) -> None:
        q = self._queue
        if offset < 0:
            while len(q) > -offset:
                q.popleft()
            return
        while q and q[0].update_id < offset:
            q.popleft()

    def _set_allowed(self, allowed: Any) -> None:
        if allowed is None:
            return
        if not isinstance(allowed, list):
            raise ApiError(400, "Bad Request: can't parse allowed updates list")
        self._allowed = frozenset(allowed) if allowed else None

    def _user_message(
        self,
        user: FakeUser,
        chat: FakeChat,
        *,
        kind: str,
        text: str | None = None,
        entities: list[dict[str, Any]] | None = None,
        caption: str | None = None,
        media: dict[str, Any] | None = None,
        reply_to: int | None = None,
        file: StoredFile | None = None,
    ) -> dict[str, Any]:
        if reply_to is not None:
            target = chat.messages.get(reply_to)
            if target is None or target.deleted:
                raise ValueError(f"chat {chat.id} has no message {reply_to} to reply to")
        cap_entities: list[dict[str, Any]] = []
        if caption:
            cap_entities = _command_entities(caption)
        msg = ChatMessage(
            message_id=chat._next_id(),
            chat=chat,
            from_bot=False,
            sender=user.to_api(),
            date=_now(),
            kind=kind,
            text=text,
            caption=caption,
            raw=text if text is not None else caption,
            entities=(entities or []) if text is not None else cap_entities,
            media=media or {},
            reply_to_message_id=reply_to,
        )
        if file is not None:
            msg.file_id = file.file_id
            msg.filename = file.filename
            msg.mime_type = file.mime_type
            if kind == "photo":
                msg.photo = file.data
            elif kind == "document":
                msg.document = file.data
        if kind == "text" and chat.force_reply:
            chat.force_reply = False
        chat._add(msg)
        user._marks[chat.id] = msg.message_id
        data = msg.to_api()
        if chat.type != "private" and self.privacy_mode and not self._privacy_allows(msg):
            self.notes.append(
                Note("privacy_mode", None, chat.id, f"message {msg.message_id} not delivered")
            )
            return data
        self._enqueue("message", data, chat.id)
        return data

    def _privacy_allows(self, msg: ChatMessage) -> bool:
        if msg.reply_to_message_id is not None:
            target = msg.chat.messages.get(msg.reply_to_message_id)
            if target is not None and target.from_bot:
                return True
        content = msg.content
        if f"@{self.bot_username}".lower() in content.lower():
            return True
        for e in msg.entities:
            if e["type"] == "bot_command":
                cmd = content[e["offset"] : e["offset"] + e["length"]]  # ASCII-safe enough
                _, at, target_bot = cmd.partition("@")
                if not at or target_bot.lower() == self.bot_username.lower():
                    return True
        return False

    def _press(self, user: FakeUser, chat: FakeChat, msg: ChatMessage, data: str) -> dict[str, Any]:
        qid = str(next(self._query_counter))
        cq = {
            "id": qid,
            "from": user.to_api(),
            "message": msg.to_api(),
            "chat_instance": chat.instance,
            "data": data,
        }
        self._pressed[qid] = _PressedQuery(
            qid, user.id, chat.id, msg.message_id, data, time.monotonic()
        )
        user._marks[chat.id] = chat.last_message_id
        self._enqueue("callback_query", cq, chat.id)
        return cq

    def _member_update(self, chat_id: int, old: str, new: str) -> None:
        chat = self._chats.get(chat_id)
        if chat is None:
            return
        actor = chat.user.to_api() if chat.user else self.bot_user
        bot = self.bot_user

        def member(status: str) -> dict[str, Any]:
            d: dict[str, Any] = {"status": status, "user": bot}
            if status == "kicked":
                d["until_date"] = 0
            return d

        self._enqueue(
            "my_chat_member",
            {
                "chat": chat.to_api(),
                "from": actor,
                "date": _now(),
                "old_chat_member": member(old),
                "new_chat_member": member(new),
            },
            chat_id,
        )

    # webhook delivery ------------------------------------------------------------------

    def _wh_push(self, upd: _Update) -> None:
        q = self._wh_queues.get(upd.key)
        if q is None:
            q = self._wh_queues[upd.key] = deque()
            if self._wh_ready is not None:
                self._wh_ready.put_nowait(upd.key)
        q.append(upd)
        self._wh_pending += 1

    async def _start_webhook_workers(self) -> None:
        await self._stop_webhook_workers()
        if self._wh_session is None:
            self._wh_session = aiohttp.ClientSession()
        self._wh_ready = asyncio.Queue()
        for key in self._wh_queues:
            self._wh_ready.put_nowait(key)
        n = max(1, min(self._webhook.max_connections, 100))
        self._wh_workers = [
            asyncio.create_task(self._webhook_worker(), name=f"fake-telegram-webhook-{i}")
            for i in range(n)
        ]

    async def _stop_webhook_workers(self) -> None:
        workers, self._wh_workers = self._wh_workers, []
        for t in workers:
            t.cancel()
        if workers:
            await asyncio.gather(*workers, return_exceptions=True)
        self._wh_ready = None
        self._wh_inflight = 0

    def _drain_webhook_queues(self) -> list[_Update]:
        items = [u for q in self._wh_queues.values() for u in q]
        self._wh_queues.clear()
        self._wh_pending = 0
        items.sort(key=lambda u: u.update_id)
        return items

    async def _webhook_worker(self) -> None:
        assert self._wh_ready is not None
        ready = self._wh_ready
        while True:
            key = await ready.get()
            q = self._wh_queues.get(key)
            if not q:
                self._wh_queues.pop(key, None)
                continue
            while self.outage_active:  # noqa: ASYNC110 - the outage ends by the clock
                await asyncio.sleep(max(self._outage_until - time.monotonic(), 0.01))
            upd = q[0]
            self._wh_inflight += 1
            try:
                ok = await self._deliver(upd)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug in the fake: keep it, retry like a failure
                self.server_errors.append(exc)
                ok = False
            finally:
                self._wh_inflight -= 1
                self._touch()
                self._signal.fire()
            if ok:
                q.popleft()
                self._wh_pending -= 1
            else:
                await asyncio.sleep(self.webhook_retry_delay)
            if q:
                ready.put_nowait(key)
            else:
                self._wh_queues.pop(key, None)

    async def _deliver(self, upd: _Update) -> bool:
        assert self._wh_session is not None
        wh = self._webhook
        headers = {"Content-Type": "application/json"}
        if wh.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = wh.secret_token
        started = time.monotonic()
        body = json.dumps(upd.payload, ensure_ascii=False).encode()
        try:
            async with self._wh_session.post(
                wh.url,
                data=body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.webhook_timeout),
            ) as resp:
                status = resp.status
                reason = resp.reason or ""
                reply = await self._webhook_reply(resp) if 200 <= status < 300 else None
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # any transport failure is a failed delivery
            wh.last_error_date = _now()
            wh.last_error_message = f"Connection failed: {type(exc).__name__}: {exc}"
            self.webhook_deliveries.append(
                WebhookDelivery(
                    upd.update_id,
                    None,
                    started,
                    time.monotonic() - started,
                    wh.secret_token,
                    wh.last_error_message,
                )
            )
            return False
        self.webhook_deliveries.append(
            WebhookDelivery(
                upd.update_id, status, started, time.monotonic() - started, wh.secret_token
            )
        )
        if not 200 <= status < 300:
            wh.last_error_date = _now()
            wh.last_error_message = f"Wrong response from the webhook: {status} {reason}"
            return False
        if reply is not None:
            method, params, files = reply
            name = self._method_names.get(method.lower())
            if name is not None:
                await self._execute(name, params, files, time.monotonic(), source="webhook_reply")
        return True

    async def _webhook_reply(
        self, resp: aiohttp.ClientResponse
    ) -> tuple[str, dict[str, Any], dict[str, UploadedFile]] | None:
        """A method call in the webhook's answer, which Telegram executes."""
        ctype = resp.content_type
        params: dict[str, Any]
        files: dict[str, UploadedFile] = {}
        if ctype == "application/json":
            raw = await resp.read()
            try:
                data = json.loads(raw) if raw.strip() else {}
            except ValueError:
                return None
            if not isinstance(data, dict):
                return None
            params = dict(data)
        elif ctype == "multipart/form-data":
            reader = aiohttp.MultipartReader(resp.headers, resp.content)
            params, files = await _read_multipart(reader)
        else:
            await resp.read()
            return None
        method = params.pop("method", None)
        if not isinstance(method, str):
            return None
        return method, _coerce(params), files

    async def _m_get_updates(self, p: dict[str, Any], files: Any, call: Call) -> list[Any]:
        if self._webhook.url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use "
                "deleteWebhook to delete the webhook first",
            )
        offset = _as_int(p.get("offset"), "offset", 0) or 0
        limit = min(max(_as_int(p.get("limit"), "limit", 100) or 100, 1), 100)
        timeout = max(_as_int(p.get("timeout"), "timeout", 0) or 0, 0)
        self._set_allowed(p.get("allowed_updates"))
        self._confirm(offset)
        if self._poller is not None and not self._poller.done():
            self._poller.set_result("conflict")
        if not self._queue and timeout > 0 and not self._closing:
            poller: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            self._poller = poller
            await asyncio.wait(
                {poller, self._updates_signal.future()},
                timeout=timeout,
                return_when=asyncio.FIRST_COMPLETED,
            )
            if self._poller is poller:
                self._poller = None
            if poller.done():
                why = poller.result()
                if why == "conflict":
                    raise ApiError(
                        409,
                        "Conflict: terminated by other getUpdates request; make sure that "
                        "only one bot instance is running",
                    )
                if why == "outage":
                    if self._outage_body == "json":
                        raise ApiError(502, "Bad Gateway")
                    raise _raw_error(502, self._outage_body)
                if why == "closing":
                    return []
            else:
                poller.cancel()
            if self._webhook.url:
                return []
        batch = [u.payload for u in itertools.islice(self._queue, limit)]
        if batch:
            self._last_returned_id = max(self._last_returned_id, batch[-1]["update_id"])
        return batch

    async def _m_set_webhook(self, p: dict[str, Any], files: Any, call: Call) -> _Described:
        url = p.get("url") or ""
        if not isinstance(url, str):
            raise ApiError(400, "Bad Request: bad webhook: invalid URL")
        if not url:
            return await self._m_delete_webhook(p, files, call)
        if not re.match(r"https?://[^/\s]+", url):
            raise ApiError(
                400, "Bad Request: bad webhook: Failed to resolve host: Name or service not known"
            )
        secret = p.get("secret_token")
        if secret is not None and secret != "":
            if not isinstance(secret, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
                raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        else:
            secret = None
        max_conn = _as_int(p.get("max_connections"), "max_connections", 40) or 40
        if not 1 <= max_conn <= 100:
            raise ApiError(
                400, "Bad Request: bad webhook: max_connections must be between 1 and 100"
            )
        self._set_allowed(p.get("allowed_updates"))
        drop = _as_bool(p.get("drop_pending_updates", False))
        wh = self._webhook
        was_set = bool(wh.url)
        items = self._drain_webhook_queues() if was_set else list(self._queue)
        self._queue.clear()
        if self._poller is not None and not self._poller.done():
            self._poller.set_result("closing")
        wh.url = url
        wh.secret_token = secret
        wh.max_connections = max_conn
        wh.allowed_updates = (
            p.get("allowed_updates")
            if isinstance(p.get("allowed_updates"), list)
            else wh.allowed_updates
        )
        wh.last_error_date = None
        wh.last_error_message = None
        if not drop:
            for u in items:
                self._wh_push(u)
        await self._start_webhook_workers()
        return _Described(True, "Webhook was set")

    async def _m_delete_webhook(self, p: dict[str, Any], files: Any, call: Call) -> _Described:
        drop = _as_bool(p.get("drop_pending_updates", False))
        wh = self._webhook
        if not wh.url:
            if drop:
                self._queue.clear()
            return _Described(True, "Webhook is already deleted")
        await self._stop_webhook_workers()
        items = self._drain_webhook_queues()
        self._webhook = _Webhook()
        self._queue.clear()
        if not drop:
            self._queue.extend(items)
        return _Described(True, "Webhook was deleted")

    def _m_get_webhook_info(self, p: dict[str, Any], files: Any, call: Call) -> dict[str, Any]:
        wh = self._webhook
        info: dict[str, Any] = {
            "url": wh.url,
            "has_custom_certificate": False,
            "pending_update_count": self.pending_update_count,
        }
        if wh.url:
            info["max_connections"] = wh.max_connections
            info["ip_address"] = "127.0.0.1"
            if wh.allowed_updates:
                info["allowed_updates"] = wh.allowed_updates
            if wh.last_error_date is not None:
                info["last_error_date"] = wh.last_error_date
                info["last_error_message"] = wh.last_error_message
        return info
