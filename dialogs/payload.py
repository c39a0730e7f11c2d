"""One codec for every button payload: `<prefix>:<field>:<field>…`, ASCII, at most 64 bytes.

A payload kind is a frozen dataclass that subclasses `Payload` and names its prefix:

    @dataclass(frozen=True)
    class CardButton(Payload, prefix="pl"):
        placement: str
        action: Literal["card", "up", "down"]

    CardButton("nextiili_textiles", "card").pack()   # "pl:nextiili_textiles:card"
    CardButton.parse("pl:nextiili_textiles:card")    # CardButton(...), or None on garbage

Fields are `str` (letters, digits, `_ . -`), `int` (a signed 64-bit integer, so an id
taken from a payload is safe to put in a query) or `Literal[...]` (one of the given
strings). Trailing fields that have a default may be left out of the payload. `valid()`
adds a kind's own checks (a timestamp not in the future). `parse` never raises: anything
stale, forged or mangled gives None, and the caller answers politely. Only here are the
separator, the character set and Telegram's 64-byte limit known.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from typing import Any, ClassVar, Literal, Self

from dialogs.actions import MAX_PAYLOAD_BYTES

SEPARATOR = ":"
PREFIX_RE = re.compile(r"[a-z][a-z0-9_]{0,9}")
TEXT_RE = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
INT_RE = re.compile(r"-?[0-9]{1,19}")
INT_MIN, INT_MAX = -(2**63), 2**63 - 1


class Payload:
    """Base of every payload kind (see the module docstring)."""

    prefix: ClassVar[str] = ""
    _hints: ClassVar[dict[str, Any] | None] = None
    _field_list: ClassVar[list[tuple[dataclasses.Field, Any]] | None] = None

    def __init_subclass__(cls, prefix: str = "", **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if prefix:
            if not PREFIX_RE.fullmatch(prefix):
                raise ValueError(f"bad payload prefix: {prefix!r}")
            cls.prefix = prefix
        cls._hints = None
        cls._field_list = None

    @classmethod
    def _fields(cls) -> list[tuple[dataclasses.Field, Any]]:
        """The fields with their type hints, worked out once per kind."""
        fields = cls.__dict__.get("_field_list")
        if fields is None:
            if cls._hints is None:
                cls._hints = typing.get_type_hints(cls)
            hints = cls._hints
            fields = [(f, hints[f.name]) for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
            cls._field_list = fields
        return fields

    def pack(self) -> str:
        """The payload as a button carries it; ValueError if it cannot be one."""
        parts: list[str] = []
        for field, hint in self._fields():
            parts.append(_encode(getattr(self, field.name), hint, field.name))
        # trailing fields at their default are left out ("forget:no", not "forget:no:0")
        fields = self._fields()
        while parts and fields[len(parts) - 1][0].default is not dataclasses.MISSING:
            field = fields[len(parts) - 1][0]
            if getattr(self, field.name) != field.default:
                break
            parts.pop()
        raw = SEPARATOR.join([self.prefix, *parts])
        if len(raw.encode()) > MAX_PAYLOAD_BYTES:
            raise ValueError(f"payload over {MAX_PAYLOAD_BYTES} bytes: {raw!r}")
        return raw

    @classmethod
    def parse(cls, raw: object) -> Self | None:
        """The payload `raw` names, or None if it is not a valid one of this kind."""
        if not isinstance(raw, str) or not raw.isascii() or len(raw) > MAX_PAYLOAD_BYTES:
            return None
        prefix, *values = raw.split(SEPARATOR)
        fields = cls._fields()
        if prefix != cls.prefix or len(values) > len(fields):
            return None
        kwargs: dict[str, Any] = {}
        for index, (field, hint) in enumerate(fields):
            if index >= len(values):
                if field.default is dataclasses.MISSING:
                    return None
                continue
            value = _decode(values[index], hint)
            if value is None:
                return None
            kwargs[field.name] = value
        payload = cls(**kwargs)
        return payload if payload.valid() else None

    def valid(self) -> bool:
        """A kind's own checks beyond the field types."""
        return True


def prefix_of(raw: str) -> str:
    return raw.partition(SEPARATOR)[0]


def _encode(value: Any, hint: Any, name: str) -> str:
    if typing.get_origin(hint) is Literal:
        if value not in typing.get_args(hint):
            raise ValueError(f"{name}={value!r} is not one of {typing.get_args(hint)}")
        return str(value)
    if hint is int:
        if not isinstance(value, int) or not INT_MIN <= value <= INT_MAX:
            raise ValueError(f"{name}={value!r} is not a 64-bit integer")
        return str(value)
    text = str(value)
    if not TEXT_RE.fullmatch(text):
        raise ValueError(f"{name}={value!r} has characters a payload field cannot carry")
    return text


def _decode(text: str, hint: Any) -> Any:
    if typing.get_origin(hint) is Literal:
        return text if text in typing.get_args(hint) else None
    if hint is int:
        if not INT_RE.fullmatch(text):
            return None
        number = int(text)
        return number if INT_MIN <= number <= INT_MAX else None
    return text if TEXT_RE.fullmatch(text) else None
