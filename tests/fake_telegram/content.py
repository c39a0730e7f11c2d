"""Building the bot's messages from request parameters: HTML, keyboards, replies and files."""

from __future__ import annotations

import mimetypes
import secrets
from typing import Any

from tests.fake_telegram.chats import ChatMessage, FakeChat
from tests.fake_telegram.errors import ApiError, HtmlParseError
from tests.fake_telegram.html_entities import _strip_text, parse_html
from tests.fake_telegram.limits import (
    CAPTION_LIMIT,
    KEYBOARD_BUTTON_LIMIT,
    ROW_WIDTH_LIMIT,
    TEXT_LIMIT,
)
from tests.fake_telegram.png import _image_size
from tests.fake_telegram.records import Call, Note, StoredFile, UploadedFile
from tests.fake_telegram.requests import _as_chat_key, _check_inline_button
from tests.fake_telegram.values import _as_bool, _as_int, _now


class Content:
    """Part of :class:`FakeTelegram` (see server.py)."""

    # ------------------------------------------------------------------ content helpers

    def _chat_for(self, params: dict[str, Any]) -> FakeChat:
        cid = params.get("chat_id")
        if cid is None or cid == "":
            raise ApiError(400, "Bad Request: chat_id is empty")
        chat = self._chats.get(cid) if isinstance(cid, int) else None
        if chat is None and isinstance(cid, str):
            key = _as_chat_key(cid)
            chat = self._chats.get(key) if isinstance(key, int) else None
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        return chat

    def _format(
        self,
        text: Any,
        parse_mode: Any,
        entities: Any,
        *,
        caption: bool,
        call: Call,
    ) -> tuple[str, list[dict[str, Any]], str | None]:
        """Validate and parse a text or caption: (plain text, entities, parse mode)."""
        if text is None:
            text = ""
        if not isinstance(text, str):
            text = str(text)
        mode = parse_mode if isinstance(parse_mode, str) and parse_mode else None
        ents: list[dict[str, Any]] = []
        if mode is not None:
            m = mode.lower()
            if m == "html":
                try:
                    text, ents = parse_html(text, strict_ampersand=self.strict_ampersand)
                except HtmlParseError as err:
                    raise ApiError(400, f"Bad Request: can't parse entities: {err}") from None
            elif m in ("markdown", "markdownv2"):
                self.notes.append(Note("parse_mode_not_checked", call.method, call.chat_id, mode))
            else:
                raise ApiError(400, "Bad Request: unsupported parse_mode")
        elif entities:
            if not isinstance(entities, list):
                raise ApiError(400, "Bad Request: can't parse entities JSON object")
            ents = [dict(e) for e in entities if isinstance(e, dict)]
        text, ents = _strip_text(text, ents)
        if caption:
            if len(text) > CAPTION_LIMIT:
                raise ApiError(400, "Bad Request: message caption is too long")
        else:
            if not text:
                raise ApiError(400, "Bad Request: message text is empty")
            if len(text) > TEXT_LIMIT:
                raise ApiError(400, "Bad Request: message is too long")
        return text, ents, mode

    def _markup(
        self, markup: Any, chat: FakeChat, call: Call, *, inline_only: bool = False
    ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """Validate reply_markup: (inline keyboard for the message, other markup)."""
        if markup is None or markup == "" or markup == {}:
            return None, None
        if not isinstance(markup, dict):
            raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise ApiError(
                    400,
                    'Bad Request: field "inline_keyboard" of the InlineKeyboardMarkup should '
                    "be an Array of Arrays",
                )
            total = 0
            clean_rows = []
            for r, row in enumerate(rows):
                if len(row) > ROW_WIDTH_LIMIT:
                    self.notes.append(
                        Note(
                            "row_too_wide",
                            call.method,
                            chat.id,
                            f"row {r} has {len(row)} buttons (more than {ROW_WIDTH_LIMIT})",
                        )
                    )
                clean_row = []
                for b in row:
                    total += 1
                    clean_row.append(_check_inline_button(b))
                if clean_row:
                    clean_rows.append(clean_row)
            if total > KEYBOARD_BUTTON_LIMIT:
                self.notes.append(
                    Note("too_many_buttons", call.method, chat.id, f"{total} buttons")
                )
            return ({"inline_keyboard": clean_rows} if clean_rows else None), None
        if inline_only:
            raise ApiError(400, "Bad Request: inline keyboard expected")
        if "keyboard" in markup:
            rows = markup["keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise ApiError(
                    400,
                    'Bad Request: field "keyboard" of the ReplyKeyboardMarkup should be an '
                    "Array of Arrays",
                )
            for row in rows:
                for b in row:
                    if not (isinstance(b, str) or (isinstance(b, dict) and "text" in b)):
                        raise ApiError(400, "Bad Request: can't parse keyboard button")
            return None, markup
        if markup.get("remove_keyboard") or markup.get("force_reply"):
            return None, markup
        raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")

    def _apply_other_markup(self, chat: FakeChat, other: dict[str, Any] | None) -> None:
        if other is None:
            return
        if "keyboard" in other:
            chat.reply_keyboard = other
        elif other.get("remove_keyboard"):
            chat.reply_keyboard = None
        elif other.get("force_reply"):
            chat.force_reply = True

    def _reply_target(self, chat: FakeChat, params: dict[str, Any]) -> int | None:
        rp = params.get("reply_parameters")
        if isinstance(rp, dict):
            mid = _as_int(rp.get("message_id"), "reply_parameters")
            allow = _as_bool(rp.get("allow_sending_without_reply", False))
            if rp.get("chat_id") not in (None, chat.id, str(chat.id)):
                self.notes.append(
                    Note("reply_in_other_chat", None, chat.id, "reply_parameters.chat_id")
                )
                return None
        else:
            mid = _as_int(params.get("reply_to_message_id"), "reply_to_message_id")
            allow = _as_bool(params.get("allow_sending_without_reply", False))
        if mid is None:
            return None
        target = chat.messages.get(mid)
        if target is None or target.deleted:
            if allow:
                return None
            raise ApiError(400, "Bad Request: message to be replied not found")
        return mid

    def _link_preview(self, params: dict[str, Any]) -> dict[str, Any] | None:
        lpo = params.get("link_preview_options")
        if isinstance(lpo, dict) and lpo:
            return lpo
        if _as_bool(params.get("disable_web_page_preview", False)):
            return {"is_disabled": True}
        return None

    def _bot_message(self, chat: FakeChat, **fields: Any) -> ChatMessage:
        msg = ChatMessage(
            message_id=chat._next_id(),
            chat=chat,
            from_bot=True,
            sender=self.bot_user,
            date=_now(),
            **fields,
        )
        return chat._add(msg)

    def _store_file(
        self, data: bytes, filename: str | None, mime: str | None, folder: str
    ) -> StoredFile:
        n = next(self._file_counter)
        ext = ""
        if filename and "." in filename:
            ext = filename.rsplit(".", 1)[1]
        elif mime:
            ext = (mimetypes.guess_extension(mime) or ".bin").lstrip(".")
        file_id = f"BQACAgIAAxkBAAI{n:08d}{secrets.token_hex(6)}"
        f = StoredFile(
            file_id=file_id,
            file_unique_id=f"AgAD{n:08d}",
            data=data,
            file_path=f"{folder}/file_{n}.{ext or 'bin'}",
            filename=filename,
            mime_type=mime,
        )
        self._files[file_id] = f
        self._files_by_path[f.file_path] = f
        return f

    def _store_photo(
        self, data: bytes, filename: str | None, mime: str | None
    ) -> tuple[list[dict[str, Any]], StoredFile]:
        """Store a photo and make the PhotoSize list Telegram returns (largest last)."""
        f = self._store_file(data, filename, mime or "image/jpeg", "photos")
        w, h = _image_size(data)
        f.width, f.height = w, h
        longest = max(w, h, 1)
        sizes: list[dict[str, Any]] = []
        for side in (90, 320, 800):
            if side < longest and longest > 0:
                scale = side / longest
                thumb = self._store_file(data, filename, f.mime_type, "photos")
                sizes.append(
                    {
                        "file_id": thumb.file_id,
                        "file_unique_id": thumb.file_unique_id,
                        "file_size": max(1, int(len(data) * scale * scale)),
                        "width": max(1, round(w * scale)),
                        "height": max(1, round(h * scale)),
                    }
                )
        scale = min(1.0, 1280 / longest)
        sizes.append(
            {
                "file_id": f.file_id,
                "file_unique_id": f.file_unique_id,
                "file_size": len(data),
                "width": max(1, round(w * scale)),
                "height": max(1, round(h * scale)),
            }
        )
        return sizes, f

    def _input_file(
        self, params: dict[str, Any], files: dict[str, UploadedFile], name: str
    ) -> tuple[StoredFile | None, UploadedFile | None]:
        """Resolve a file parameter: (already known file, fresh upload)."""
        value = params.get(name)
        if isinstance(value, UploadedFile):
            return None, value
        if isinstance(value, str) and value:
            if value.startswith("attach://"):
                up = files.get(value[len("attach://") :])
                if up is None:
                    raise ApiError(400, f'Bad Request: can\'t find attached file "{value}"')
                return None, up
            if value.startswith(("http://", "https://")):
                f = self._store_file(b"", value.rsplit("/", 1)[-1] or None, None, "url")
                f.url = value
                return f, None
            known = self._files.get(value)
            if known is None:
                raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
            return known, None
        raise ApiError(400, f"Bad Request: there is no {name} in the request")
