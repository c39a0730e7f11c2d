"""Actions: what the engine asks a door to do, as plain frozen data.

`outbox_id` (not part of equality) names the outbox row that carries a message when the
engine runs with an outbox: the door marks that row sent once Telegram confirms it.

Texts are Telegram-style HTML (`<b>`, `<i>`, `<code>` only) in which every piece of user
text has already been escaped by the flow (`dialogs.ui.esc`). Keyboards are neutral rows of
buttons; each adapter turns them into its own markup.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_PAYLOAD_BYTES = 64  # Telegram's limit for callback_data


@dataclass(frozen=True, slots=True)
class Btn:
    """An inline button: a `payload` pressed back to the engine, or a `url` to open."""

    label: str
    payload: str | None = None
    url: str | None = None

    def __post_init__(self) -> None:
        if (self.payload is None) == (self.url is None):
            raise ValueError("a button has exactly one of payload and url")
        if self.payload is not None and len(self.payload.encode()) > MAX_PAYLOAD_BYTES:
            raise ValueError(f"payload over {MAX_PAYLOAD_BYTES} bytes: {self.payload!r}")


Keyboard = tuple[tuple[Btn, ...], ...]


@dataclass(frozen=True, slots=True)
class Send:
    """Send a new text message."""

    chat_id: int
    text: str
    keyboard: Keyboard = ()
    outbox_id: int | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Edit:
    """Replace the text and keyboard of an earlier message (a checklist toggle, an answered
    question). A door that cannot edit may send the new text instead."""

    chat_id: int
    message_id: int
    text: str
    keyboard: Keyboard = ()
    outbox_id: int | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class SendFile:
    """Send a photo (`kind="photo"`) or a document, made in memory."""

    chat_id: int
    kind: str  # photo | document
    data: bytes
    filename: str
    caption: str = ""
    outbox_id: int | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Toast:
    """The short answer to the button press being handled (answerCallbackQuery)."""

    text: str = ""
    alert: bool = False


Action = Send | Edit | SendFile | Toast
