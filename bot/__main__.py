"""`python -m bot` is the same as the `kierto-bot` command."""

from bot.cli import main

raise SystemExit(main())
