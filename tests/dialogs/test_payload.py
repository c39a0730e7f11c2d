"""The payload codec: one format, the 64-byte limit and garbage in one place."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pytest

from dialogs.payload import Payload, prefix_of


@dataclass(frozen=True)
class Sample(Payload, prefix="zs"):
    name: str
    action: Literal["card", "ok"]
    number: int = 0

    def valid(self) -> bool:
        return self.number >= 0


def test_pack_and_parse_round_trip() -> None:
    assert Sample("abc_1", "card", 12).pack() == "zs:abc_1:card:12"
    assert Sample("abc_1", "card").pack() == "zs:abc_1:card"  # a trailing default is left out
    assert Sample.parse("zs:abc_1:card:12") == Sample("abc_1", "card", 12)
    assert Sample.parse("zs:abc_1:ok") == Sample("abc_1", "ok", 0)
    assert prefix_of("zs:abc_1:ok") == "zs"


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "zs",
        "zs:abc",  # a required field missing
        "zs:abc:maybe",  # not one of the choices
        "zs:abc:card:12:extra",
        "zs:abc:card:x1",
        "zs:abc:card:-1",  # valid() refuses it
        "zs:abc:card:9223372036854775808",  # past the 64-bit range
        "zs:abc:card:²",
        "zs:äbc:card",
        "zs::card",
        "zz:abc:card",  # another kind's prefix
        "zs:abc:card:1" + "0" * 60,
        None,
        42,
    ],
)
def test_garbage_parses_to_none(raw: object) -> None:
    assert Sample.parse(raw) is None


def test_what_cannot_be_a_payload_is_refused_when_made() -> None:
    with pytest.raises(ValueError, match="64 bytes"):
        Sample("a" * 60, "card").pack()
    with pytest.raises(ValueError, match="characters"):
        Sample("a:b", "card").pack()
    with pytest.raises(ValueError, match="not one of"):
        Sample("a", "nope").pack()  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="prefix"):

        class Bad(Payload, prefix="Bad:"):
            pass
