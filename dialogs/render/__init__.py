"""Rendering that flows need and that knows nothing of Telegram: the radar chart (PNG) and
the one-page PDF report."""
