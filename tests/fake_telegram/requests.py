"""Reading Bot API requests: query strings, forms, JSON and multipart bodies, and
the JSON-encoded fields both libraries send."""

from __future__ import annotations

import json
import re
from typing import Any

import aiohttp
from aiohttp import web

from tests.fake_telegram.errors import ApiError, _RawHttpError
from tests.fake_telegram.limits import (
    _BOOL_PARAMS,
    _INLINE_BUTTON_ACTIONS,
    _INT_PARAMS,
    _JSON_PARAMS,
    CALLBACK_DATA_LIMIT,
)
from tests.fake_telegram.records import UploadedFile
from tests.fake_telegram.values import _as_bool


def _as_chat_key(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return value
    return value


def _scope_key(scope: dict[str, Any] | None) -> tuple[Any, ...]:
    if not scope:
        return ("default",)
    kind = scope.get("type")
    if kind in ("default", "all_private_chats", "all_group_chats", "all_chat_administrators"):
        return (kind,)
    if kind in ("chat", "chat_administrators"):
        if scope.get("chat_id") is None:
            raise ApiError(400, "Bad Request: chat_id is empty")
        return (kind, _as_chat_key(scope["chat_id"]))
    if kind == "chat_member":
        if scope.get("chat_id") is None or scope.get("user_id") is None:
            raise ApiError(400, "Bad Request: chat_id or user_id is empty")
        return (kind, _as_chat_key(scope["chat_id"]), _as_chat_key(scope["user_id"]))
    raise ApiError(400, "Bad Request: wrong bot command scope type specified")


def _check_inline_button(b: Any) -> dict[str, Any]:
    if not isinstance(b, dict) or not isinstance(b.get("text"), str):
        raise ApiError(
            400,
            'Bad Request: can\'t parse inline keyboard button: Field "text" must be of type String',
        )
    actions = [k for k in _INLINE_BUTTON_ACTIONS if k in b and b[k] is not None]
    if not actions:
        raise ApiError(
            400,
            "Bad Request: can't parse inline keyboard button: Text buttons are unallowed in "
            "the inline keyboard",
        )
    if "callback_data" in actions:
        data = b["callback_data"]
        if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= CALLBACK_DATA_LIMIT:
            raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
    if "url" in actions:
        url = b["url"]
        if not isinstance(url, str) or not re.match(r"(https?|tg)://\S+", url):
            raise ApiError(400, "Bad Request: BUTTON_URL_INVALID")
    return {k: v for k, v in b.items() if v is not None}


def _coerce(params: dict[str, Any]) -> dict[str, Any]:
    """Give form values (always strings) their JSON types, as Telegram does."""
    for k, v in list(params.items()):
        if not isinstance(v, str):
            continue
        if k in _JSON_PARAMS:
            if v.strip() == "":
                params[k] = None
                continue
            try:
                params[k] = json.loads(v)
            except ValueError:
                raise ApiError(400, f"Bad Request: can't parse {k} JSON object") from None
        elif k in _BOOL_PARAMS:
            params[k] = _as_bool(v)
        elif k in _INT_PARAMS or k == "chat_id":
            s = v.strip()
            if re.fullmatch(r"-?\d+", s):
                params[k] = int(s)
    return params


async def _read_multipart(
    reader: aiohttp.MultipartReader,
) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
    params: dict[str, Any] = {}
    files: dict[str, UploadedFile] = {}
    while True:
        part = await reader.next()
        if part is None:
            break
        if isinstance(part, aiohttp.MultipartReader):
            await part.release()
            continue
        name = part.name
        data = bytes(await part.read(decode=True))
        if not name:
            continue
        if part.filename is not None:
            upload = UploadedFile(
                name,
                part.filename,
                part.headers.get("Content-Type", "application/octet-stream").split(";")[0],
                data,
            )
            files[name] = upload
            params[name] = upload
        else:
            params[name] = data.decode(part.get_charset(default="utf-8"), errors="replace")
    return params, files


async def _read_request(request: web.Request) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
    params: dict[str, Any] = dict(request.query)
    files: dict[str, UploadedFile] = {}
    if request.body_exists:
        ctype = request.content_type
        try:
            if ctype == "application/json":
                raw = await request.read()
                if raw.strip():
                    data = json.loads(raw)
                    if not isinstance(data, dict):
                        raise ApiError(400, "Bad Request: JSON object expected")
                    params.update(data)
            elif ctype == "multipart/form-data":
                more, files = await _read_multipart(await request.multipart())
                params.update(more)
            elif ctype == "application/x-www-form-urlencoded":
                form = await request.post()
                params.update({k: v for k, v in form.items() if isinstance(v, str)})
            else:
                await request.read()
        except ApiError:
            raise
        except web.HTTPRequestEntityTooLarge:
            raise ApiError(413, "Request Entity Too Large") from None
        except (ValueError, aiohttp.ClientError) as exc:
            raise ApiError(400, f"Bad Request: can't parse request body: {exc}") from None
    return _coerce(params), files


def _recorded_params(
    params: dict[str, Any], files: dict[str, UploadedFile]
) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
    """Params as recorded: uploads (direct or via attach://) as bytes, keyed by the
    parameter that used them; aiogram's random attachment part names left out."""
    out: dict[str, Any] = {}
    by_param: dict[str, UploadedFile] = {}
    referenced: set[str] = set()
    for k, v in params.items():
        if isinstance(v, str) and v.startswith("attach://") and v[9:] in files:
            referenced.add(v[9:])
            by_param[k] = files[v[9:]]
            out[k] = files[v[9:]].data
    for k, v in params.items():
        if k in out or k in referenced:
            continue
        if isinstance(v, UploadedFile):
            by_param[k] = v
            out[k] = v.data
        else:
            out[k] = v
    return out, by_param


def _render_error(err: Exception) -> tuple[int, bytes, str]:
    if isinstance(err, _RawHttpError):
        return err.status, err.body.encode(), err.content_type
    assert isinstance(err, ApiError)
    return err.status, json.dumps(err.payload(), ensure_ascii=False).encode(), "application/json"
