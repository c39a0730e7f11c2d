"""Telegram's HTML parse mode: text plus message entities, with Telegram's own errors."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tests.fake_telegram.errors import HtmlParseError
from tests.fake_telegram.values import _u16

_ENTITY_RE = re.compile(r"&(?:(lt|gt|amp|quot)|#([0-9]{1,7})|#[xX]([0-9a-fA-F]{1,6}));")
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_TAG_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "code": "code",
    "pre": "pre",
    "a": "text_link",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "blockquote": "blockquote",
}
_ATTR_NAME_RE = re.compile(r"[A-Za-z0-9_:-]+")


@dataclass
class _OpenTag:
    name: str
    start: int  # UTF-16 offset in the output
    attrs: dict[str, str]
    byte_offset: int
    language: str | None = None


def _decode_entities(value: str) -> str:
    def repl(m: re.Match[str]) -> str:
        if m.group(1):
            return _NAMED_ENTITIES[m.group(1)]
        code = int(m.group(2)) if m.group(2) else int(m.group(3), 16)
        return chr(code) if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else ""

    return _ENTITY_RE.sub(repl, value)


def parse_html(text: str, *, strict_ampersand: bool = True) -> tuple[str, list[dict[str, Any]]]:
    """Parse Bot API HTML into plain text and message entities (UTF-16 offsets).

    Follows Telegram's parser (TDLib ``parse_html``) closely enough for tests: the
    supported tags are b, strong, i, em, u, ins, s, strike, del, code, pre, a,
    tg-spoiler, span class="tg-spoiler" and blockquote (``expandable`` allowed); the
    named entities are &lt; &gt; &amp; &quot; plus numeric ones.  Errors carry
    Telegram's wording ("Unsupported start tag ... at byte offset N", "Can't find end
    tag corresponding to start tag ...", "Unmatched end tag ...").

    ``strict_ampersand``: Telegram itself keeps a stray "&" as text; by default the
    fake rejects it (``Unsupported HTML entity at byte offset N``) so that bots that
    forget to escape user text are caught.  Pass ``False`` for Telegram's leniency.
    """
    out: list[str] = []
    u16 = 0
    stack: list[_OpenTag] = []
    entities: list[dict[str, Any]] = []
    n = len(text)
    i = 0

    def offset(pos: int) -> int:
        return len(text[:pos].encode("utf-8"))

    while i < n:
        c = text[i]
        if c == "&":
            m = _ENTITY_RE.match(text, i)
            if m is not None:
                ch = _decode_entities(m.group(0))
                if not ch:
                    raise HtmlParseError(f"Unsupported HTML entity at byte offset {offset(i)}")
                out.append(ch)
                u16 += _u16(ch)
                i = m.end()
                continue
            if strict_ampersand:
                raise HtmlParseError(
                    f'Unsupported HTML entity at byte offset {offset(i)} (escape "&" as &amp;)'
                )
            out.append("&")
            u16 += 1
            i += 1
            continue
        if c != "<":
            j = i + 1
            while j < n and text[j] not in "<&":
                j += 1
            chunk = text[i:j]
            out.append(chunk)
            u16 += _u16(chunk)
            i = j
            continue

        begin = i
        i += 1
        if i < n and text[i] == "/":
            close = text.find(">", i)
            if close < 0:
                raise HtmlParseError(f"Unclosed end tag at byte offset {offset(begin)}")
            name = text[i + 1 : close].strip().lower()
            if not stack:
                raise HtmlParseError(f"Unexpected end tag at byte offset {offset(begin)}")
            top = stack[-1]
            if name and name != top.name:
                raise HtmlParseError(
                    f'Unmatched end tag at byte offset {offset(begin)}, expected "</{top.name}>", '
                    f'found "</{name}>"'
                )
            stack.pop()
            i = close + 1
            _close_entity(top, u16, stack, entities)
            continue

        j = i
        while j < n and not text[j].isspace() and text[j] != ">":
            j += 1
        name = text[i:j].lower()
        if name not in _TAG_TYPES:
            raise HtmlParseError(f'Unsupported start tag "{name}" at byte offset {offset(begin)}')
        if j >= n:
            raise HtmlParseError(f"Unclosed start tag at byte offset {offset(begin)}")
        attrs: dict[str, str] = {}
        k = j
        while True:
            while k < n and text[k].isspace():
                k += 1
            if k >= n:
                raise HtmlParseError(f"Unclosed start tag at byte offset {offset(begin)}")
            if text[k] == ">":
                k += 1
                break
            m = _ATTR_NAME_RE.match(text, k)
            if m is None:
                raise HtmlParseError(
                    f'Empty attribute name in the tag "{name}" at byte offset {offset(begin)}'
                )
            attr = m.group(0).lower()
            k = m.end()
            while k < n and text[k].isspace():
                k += 1
            if k < n and text[k] == "=":
                k += 1
                while k < n and text[k].isspace():
                    k += 1
                if k >= n:
                    raise HtmlParseError(f"Unclosed start tag at byte offset {offset(begin)}")
                if text[k] in "\"'":
                    quote = text[k]
                    end = text.find(quote, k + 1)
                    if end < 0:
                        raise HtmlParseError(f"Unclosed start tag at byte offset {offset(begin)}")
                    value = text[k + 1 : end]
                    k = end + 1
                else:
                    end = k
                    while end < n and not text[end].isspace() and text[end] != ">":
                        end += 1
                    value = text[k:end]
                    k = end
                attrs[attr] = _decode_entities(value)
            elif name == "blockquote" and attr == "expandable":
                attrs[attr] = ""
            else:
                raise HtmlParseError(
                    f'Expected equal sign in declaration of an attribute of the tag "{name}" '
                    f"at byte offset {offset(begin)}"
                )
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise HtmlParseError(
                f'Tag "span" must have class "tg-spoiler" at byte offset {offset(begin)}'
            )
        stack.append(_OpenTag(name, u16, attrs, offset(begin)))
        i = k

    if stack:
        raise HtmlParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _close_entity(
    tag: _OpenTag, end: int, stack: list[_OpenTag], entities: list[dict[str, Any]]
) -> None:
    length = end - tag.start
    if tag.name == "code" and stack and stack[-1].name == "pre":
        cls = tag.attrs.get("class", "")
        if cls.startswith("language-") and tag.start == stack[-1].start:
            stack[-1].language = cls[len("language-") :]
    if length <= 0:
        return
    kind = _TAG_TYPES[tag.name]
    entity: dict[str, Any] = {"type": kind, "offset": tag.start, "length": length}
    if tag.name == "a":
        href = tag.attrs.get("href", "").strip()
        if not href:
            return
        entity["url"] = href
    elif tag.name == "blockquote" and "expandable" in tag.attrs:
        entity["type"] = "expandable_blockquote"
    elif tag.name == "pre":
        # a <code> spanning the whole <pre> becomes the pre's language, not an entity
        for idx in range(len(entities) - 1, -1, -1):
            e = entities[idx]
            if e["type"] == "code" and e["offset"] == tag.start and e["length"] == length:
                del entities[idx]
                break
        if tag.language:
            entity["language"] = tag.language
    entities.append(entity)


def _strip_text(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Trim surrounding whitespace the way Telegram does, moving entities along."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    lead = _u16(text[: len(text) - len(text.lstrip())])
    total = _u16(stripped)
    out = []
    for e in entities:
        start = max(e["offset"] - lead, 0)
        end = min(e["offset"] + e["length"] - lead, total)
        if end > start:
            out.append({**e, "offset": start, "length": end - start})
    return stripped, out


_COMMAND_RE = re.compile(r"(?<![\w/])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?")


def _command_entities(text: str) -> list[dict[str, Any]]:
    out = []
    for m in _COMMAND_RE.finditer(text):
        out.append(
            {"type": "bot_command", "offset": _u16(text[: m.start()]), "length": _u16(m.group(0))}
        )
    return out
