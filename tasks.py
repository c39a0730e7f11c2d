#!/usr/bin/env python3
"""Two commands for a fresh machine with only Python 3.11+ and pip.

    python3 tasks.py start [ARGS]   install into ./.venv, then start the bot:
                                    Telegram polling when BOT_TOKEN is set,
                                    the console chat otherwise
    python3 tasks.py test [ARGS]    install into ./.venv (with test tools), run every test

The virtual environment is created on first use and reinstalled only when
pyproject.toml changes, so both commands are quick after the first run.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")


def ensure_venv(extras: str) -> None:
    if sys.version_info < (3, 11):  # noqa: UP036  (this file runs before the venv exists)
        sys.exit(f"kierto-bot needs Python 3.11 or newer; this is {sys.version.split()[0]}.")
    if not (BIN / "python").exists():
        print("Creating the virtual environment in .venv …", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()[:16]
    stamp = VENV / f".installed-{extras or 'base'}-{digest}"
    # A development install also satisfies a plain one.
    if stamp.exists() or (not extras and (VENV / f".installed-dev-{digest}").exists()):
        return
    print("Installing kierto-bot and its dependencies …", flush=True)
    target = f".[{extras}]" if extras else "."
    subprocess.run(
        [
            str(BIN / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-e",
            target,
        ],
        cwd=ROOT,
        check=True,
    )
    for old in VENV.glob(".installed-*"):
        if not old.name.endswith(digest):
            old.unlink()
    stamp.touch()


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"start", "test"}:
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    os.chdir(ROOT)
    if command == "start":
        ensure_venv("")
        args = [str(BIN / "kierto-bot"), "start", *rest]
    else:
        ensure_venv("dev")
        args = [str(BIN / "python"), "-m", "pytest", *rest]
    if os.name == "nt":
        return subprocess.call(args)
    os.execv(args[0], args)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
