"""``bench leaderboard``: run the Streamlit server of `leaderboard/app.py` on a results file.

The server listens on ``localhost`` only (results stay on this machine; reach it from
elsewhere through an SSH tunnel), runs headless (no browser is opened, no e-mail prompt)
and sends no usage statistics. It runs in the foreground until interrupted.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

APP = Path(__file__).with_name("app.py")


def command(db: Path, port: int) -> list[str]:
    """The ``streamlit run`` command line for database ``db`` on ``port``."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.port",
        str(port),
        "--server.address",
        "localhost",
        "--server.headless",
        "true",
        "--server.fileWatcherType",
        "none",
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "viewer",
        "--",
        "--db",
        str(Path(db).expanduser().resolve()),
    ]


def launch(db: Path, port: int) -> int:
    """Serve the leaderboard of ``db`` on ``port`` until stopped; the server's exit code."""
    return subprocess.call(command(db, port))
