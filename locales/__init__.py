"""Gettext catalogs of kierto-bot: `<lang>/LC_MESSAGES/messages.po` for fi, en and sv.

`babel.cfg` beside them tells Babel where the marked strings are. The bot reads the `.po`
files directly (see `locales.i18n`); `kierto-bot i18n update` refreshes them from the code.
"""

from pathlib import Path

DIR = Path(__file__).resolve().parent
DOMAIN = "messages"
