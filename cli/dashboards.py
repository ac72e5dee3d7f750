"""`warmpool dashboards`: the Streamlit app, served the one way everything starts it (make dashboards,
the browser test, the benchmark): viewer toolbar (no developer menu), headless, no usage statistics,
the brand's colour."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from warmpool.config import get_settings

APP = Path(__file__).resolve().parent.parent / "dashboards" / "app.py"


def streamlit_command(host: str = "127.0.0.1", port: int = 8501) -> list[str]:
    command = [sys.executable, "-m", "streamlit", "run", str(APP), "--server.headless", "true",
               "--server.address", host, "--server.port", str(port), "--client.toolbarMode", "viewer",
               "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
    return command + ["--theme.primaryColor", get_settings().brand.primary_color]


def streamlit_env() -> dict[str, str]:
    return dict(os.environ, STREAMLIT_BROWSER_GATHER_USAGE_STATS="false")


def serve(host: str = "127.0.0.1", port: int = 8501) -> int:
    """Run the dashboards until interrupted; returns Streamlit's exit code."""
    return subprocess.call(streamlit_command(host, port), env=streamlit_env())
