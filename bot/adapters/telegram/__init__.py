"""The Telegram door, shared by both runtimes (aiogram and python-telegram-bot).

A runtime is a `Transport`: the library's Bot API client and update types, turned into a
few neutral calls. Everything about *how* kierto-bot lives in Telegram is here, once, in
modules named for their jobs:

- `updates`: a Telegram update as the engine's event;
- `errors`: the Bot API failure kinds (an enum) and the matching both runtimes share;
- `sender`: Bot API calls with retries (429, 5xx, network), 403 marks the user blocked,
  Telegram's limits applied to each message;
- `polling`: long polling that confirms an update only after its writes are committed,
  each user's updates in order, different users side by side;
- `web`: the webhook (secret-token header checked first) and /healthz;
- `progress`: the door's count of updates taken in and finished, behind `settled()`;
- `door`: `TelegramDoor`, which ties them together with flood control and the answer to
  every button press; SIGTERM finishes the updates in hand before the process exits.
"""

from bot.adapters.telegram.door import TelegramDoor, install_signal_handlers
from bot.adapters.telegram.errors import ApiError, ApiErrorKind, api_call, api_error
from bot.adapters.telegram.transport import Transport
from bot.adapters.telegram.updates import ALLOWED_UPDATES, Incoming, incoming
from bot.adapters.telegram.web import webhook_path

__all__ = [
    "ALLOWED_UPDATES",
    "ApiError",
    "ApiErrorKind",
    "Incoming",
    "TelegramDoor",
    "Transport",
    "api_call",
    "api_error",
    "incoming",
    "install_signal_handlers",
    "webhook_path",
]
