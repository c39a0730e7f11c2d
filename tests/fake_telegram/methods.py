"""The Bot API methods that send, edit and answer, plus commands and files."""

from __future__ import annotations

import mimetypes
import re
import time
from typing import Any

from tests.fake_telegram.chats import ChatMessage, FakeChat
from tests.fake_telegram.errors import ApiError
from tests.fake_telegram.limits import (
    CHAT_ACTIONS,
    DELETE_NOT_FOUND,
    EDIT_NOT_FOUND,
    NOT_MODIFIED,
    QUERY_TOO_OLD,
)
from tests.fake_telegram.records import Call, CallbackAnswer, UploadedFile
from tests.fake_telegram.requests import _scope_key
from tests.fake_telegram.values import _as_bool, _as_int, _now


class Methods:
    """Part of :class:`FakeTelegram` (see server.py)."""

    # ------------------------------------------------------------------ methods

    def _m_get_me(self, p: dict[str, Any], files: Any, call: Call) -> dict[str, Any]:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": not self.privacy_mode,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _m_send_message(self, p: dict[str, Any], files: Any, call: Call) -> dict[str, Any]:
        chat = self._chat_for(p)
        text, ents, mode = self._format(
            p.get("text"), p.get("parse_mode"), p.get("entities"), caption=False, call=call
        )
        inline, other = self._markup(p.get("reply_markup"), chat, call)
        reply_to = self._reply_target(chat, p)
        msg = self._bot_message(
            chat,
            kind="text",
            text=text,
            raw=p.get("text") if isinstance(p.get("text"), str) else text,
            parse_mode=mode,
            entities=ents,
            reply_markup=inline,
            reply_to_message_id=reply_to,
            link_preview_options=self._link_preview(p),
        )
        self._apply_other_markup(chat, other)
        return msg.to_api()

    def _editable(self, p: dict[str, Any]) -> tuple[FakeChat, ChatMessage]:
        if p.get("inline_message_id") and p.get("chat_id") is None:
            raise ApiError(400, "Bad Request: MESSAGE_ID_INVALID")
        chat = self._chat_for(p)
        mid = _as_int(p.get("message_id"), "message_id")
        if mid is None:
            raise ApiError(400, "Bad Request: message identifier is not specified")
        msg = chat.messages.get(mid)
        if msg is None or msg.deleted:
            raise ApiError(400, EDIT_NOT_FOUND)
        if not msg.from_bot:
            raise ApiError(400, "Bad Request: message can't be edited")
        return chat, msg

    def _apply_edit(self, chat: FakeChat, msg: ChatMessage, **changes: Any) -> dict[str, Any]:
        if self.record:
            msg.history.append(msg._snapshot())
        for k, v in changes.items():
            setattr(msg, k, v)
        msg.edit_date = _now()
        chat.signal.fire()
        return msg.to_api()

    def _m_edit_message_text(self, p: dict[str, Any], files: Any, call: Call) -> dict[str, Any]:
        chat, msg = self._editable(p)
        if msg.kind != "text":
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        text, ents, mode = self._format(
            p.get("text"), p.get("parse_mode"), p.get("entities"), caption=False, call=call
        )
        inline, _ = self._markup(p.get("reply_markup"), chat, call, inline_only=True)
        if text == msg.text and ents == msg.entities and inline == msg.reply_markup:
            raise ApiError(400, NOT_MODIFIED)
        lpo = self._link_preview(p)
        return self._apply_edit(
            chat,
            msg,
            text=text,
            entities=ents,
            raw=p.get("text") if isinstance(p.get("text"), str) else text,
            parse_mode=mode,
            reply_markup=inline,
            link_preview_options=lpo if lpo is not None else msg.link_preview_options,
        )

    def _m_edit_message_caption(self, p: dict[str, Any], files: Any, call: Call) -> dict[str, Any]:
        chat, msg = self._editable(p)
        if msg.kind == "text":
            raise ApiError(400, "Bad Request: there is no caption in the message to edit")
        caption, ents, mode = self._format(
            p.get("caption"),
            p.get("parse_mode"),
            p.get("caption_entities"),
            caption=True,
            call=call,
        )
        inline, _ = self._markup(p.get("reply_markup"), chat, call, inline_only=True)
        if (
            (caption or None) == (msg.caption or None)
            and ents == msg.entities
            and inline == msg.reply_markup
        ):
            raise ApiError(400, NOT_MODIFIED)
        return self._apply_edit(
            chat,
            msg,
            caption=caption or None,
            entities=ents,
            raw=p.get("caption") if isinstance(p.get("caption"), str) else caption,
            parse_mode=mode,
            reply_markup=inline,
        )

    def _m_edit_message_reply_markup(
        self, p: dict[str, Any], files: Any, call: Call
    ) -> dict[str, Any]:
        chat, msg = self._editable(p)
        inline, _ = self._markup(p.get("reply_markup"), chat, call, inline_only=True)
        if inline == msg.reply_markup:
            raise ApiError(400, NOT_MODIFIED)
        return self._apply_edit(chat, msg, reply_markup=inline)

    def _m_answer_callback_query(self, p: dict[str, Any], files: Any, call: Call) -> bool:
        qid = p.get("callback_query_id")
        qid = str(qid) if qid is not None else ""
        pressed = self._pressed.get(qid)
        now = time.monotonic()
        if (
            pressed is None
            or qid in self.callback_answers
            or now - pressed.time > self.callback_timeout
        ):
            raise ApiError(400, QUERY_TOO_OLD)
        text = p.get("text")
        if text is not None and len(str(text)) > 200:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        answer = CallbackAnswer(
            callback_query_id=qid,
            text=text,
            show_alert=_as_bool(p.get("show_alert", False)),
            url=p.get("url"),
            cache_time=_as_int(p.get("cache_time"), "cache_time"),
            pressed_at=pressed.time,
            answered_at=now,
        )
        self.callback_answers[qid] = answer
        chat = self._chats.get(pressed.chat_id)
        if chat is not None:
            chat.toasts.append(answer)
            chat.signal.fire()
        return True

    def _media_message(
        self,
        p: dict[str, Any],
        files: dict[str, UploadedFile],
        call: Call,
        field_name: str,
    ) -> dict[str, Any]:
        chat = self._chat_for(p)
        known, upload = self._input_file(p, files, field_name)
        caption, ents, mode = self._format(
            p.get("caption"),
            p.get("parse_mode"),
            p.get("caption_entities"),
            caption=True,
            call=call,
        )
        inline, other = self._markup(p.get("reply_markup"), chat, call)
        reply_to = self._reply_target(chat, p)
        if upload is not None and not upload.data:
            raise ApiError(400, "Bad Request: file must be non-empty")
        if field_name == "photo":
            if upload is not None:
                sizes, f = self._store_photo(upload.data, upload.filename, upload.content_type)
            else:
                assert known is not None
                f = known
                w, h = (f.width or 320, f.height or 320)
                sizes = [
                    {
                        "file_id": f.file_id,
                        "file_unique_id": f.file_unique_id,
                        "file_size": f.file_size,
                        "width": w,
                        "height": h,
                    }
                ]
            media: dict[str, Any] = {"photo": sizes}
        else:
            if upload is not None:
                mime = upload.content_type
                if mime in ("", "application/octet-stream") and upload.filename:
                    mime = mimetypes.guess_type(upload.filename)[0] or mime
                f = self._store_file(upload.data, upload.filename, mime, "documents")
            else:
                assert known is not None
                f = known
            doc: dict[str, Any] = {"file_id": f.file_id, "file_unique_id": f.file_unique_id}
            if f.filename:
                doc["file_name"] = f.filename
            if f.mime_type:
                doc["mime_type"] = f.mime_type
            doc["file_size"] = f.file_size
            media = {"document": doc}
        msg = self._bot_message(
            chat,
            kind=field_name,
            caption=caption or None,
            raw=p.get("caption") if isinstance(p.get("caption"), str) else None,
            parse_mode=mode,
            entities=ents,
            media=media,
            reply_markup=inline,
            reply_to_message_id=reply_to,
            filename=f.filename,
            mime_type=f.mime_type,
            file_id=f.file_id,
            photo=f.data if field_name == "photo" else None,
            document=f.data if field_name == "document" else None,
        )
        self._apply_other_markup(chat, other)
        return msg.to_api()

    def _m_send_photo(self, p: dict[str, Any], files: Any, call: Call) -> dict[str, Any]:
        return self._media_message(p, files, call, "photo")

    def _m_send_document(self, p: dict[str, Any], files: Any, call: Call) -> dict[str, Any]:
        return self._media_message(p, files, call, "document")

    def _m_send_chat_action(self, p: dict[str, Any], files: Any, call: Call) -> bool:
        chat = self._chat_for(p)
        action = p.get("action")
        if action not in CHAT_ACTIONS:
            raise ApiError(400, "Bad Request: wrong parameter action in request")
        chat.actions.append((time.monotonic(), action))
        chat.signal.fire()
        return True

    def _m_delete_message(self, p: dict[str, Any], files: Any, call: Call) -> bool:
        chat = self._chat_for(p)
        mid = _as_int(p.get("message_id"), "message_id")
        msg = chat.messages.get(mid) if mid is not None else None
        if msg is None or msg.deleted:
            raise ApiError(400, DELETE_NOT_FOUND)
        msg.deleted = True
        chat.signal.fire()
        return True

    def _commands_key(self, p: dict[str, Any]) -> tuple[tuple[Any, ...], str]:
        scope = p.get("scope")
        if scope is not None and not isinstance(scope, dict):
            raise ApiError(400, "Bad Request: can't parse BotCommandScope JSON object")
        lang = p.get("language_code") or ""
        if not isinstance(lang, str) or (lang and not re.fullmatch(r"[a-z]{2}", lang)):
            raise ApiError(400, "Bad Request: invalid language code specified")
        return _scope_key(scope), lang

    def _m_set_my_commands(self, p: dict[str, Any], files: Any, call: Call) -> bool:
        key = self._commands_key(p)
        cmds = p.get("commands")
        if not isinstance(cmds, list):
            raise ApiError(400, "Bad Request: can't parse commands JSON object")
        if len(cmds) > 100:
            raise ApiError(400, "Bad Request: too many commands specified")
        clean = []
        for c in cmds:
            if not isinstance(c, dict):
                raise ApiError(400, "Bad Request: can't parse BotCommand JSON object")
            command = str(c.get("command", "")).lstrip("/")
            desc = str(c.get("description", ""))
            if not re.fullmatch(r"[a-z0-9_]{1,32}", command):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(desc.strip()) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
            clean.append({"command": command, "description": desc})
        if clean:
            self._commands[key] = clean
        else:
            self._commands.pop(key, None)
        return True

    def _m_delete_my_commands(self, p: dict[str, Any], files: Any, call: Call) -> bool:
        self._commands.pop(self._commands_key(p), None)
        return True

    def _m_get_my_commands(self, p: dict[str, Any], files: Any, call: Call) -> list[Any]:
        return list(self._commands.get(self._commands_key(p), []))

    def _m_get_file(self, p: dict[str, Any], files: Any, call: Call) -> dict[str, Any]:
        f = self._files.get(str(p.get("file_id") or ""))
        if f is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        return {
            "file_id": f.file_id,
            "file_unique_id": f.file_unique_id,
            "file_size": f.file_size,
            "file_path": f.file_path,
        }

    def _m_close(self, p: dict[str, Any], files: Any, call: Call) -> bool:
        self.close_calls += 1
        return True

    def _m_log_out(self, p: dict[str, Any], files: Any, call: Call) -> bool:
        self.logged_out = True
        return True
