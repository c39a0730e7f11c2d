"""kierto-bot's runtime: configuration, store, languages, charts and the doors (Telegram
runtimes and the console) through which people reach the engine in `dialogs`."""
