"""kierto-bot tests; they mirror the packages (bot/, dialogs/, knowledge/)."""
