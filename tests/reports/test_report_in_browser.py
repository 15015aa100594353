"""The example report in a real browser: headless Chromium draws it with no console
message and no request leaving the machine (the report is one self-contained file)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_REPORTS = sorted((ROOT / "reports").glob("**/report.html"))
BROWSER = next((shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome")
                if shutil.which(name)), None)

pytestmark = pytest.mark.skipif(BROWSER is None, reason="no Chromium on this machine")

# Quiet the browser's own background traffic (updates, sync, sign-in) so the
# network log holds what the page asked for.
QUIET = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-extensions", "--disable-default-apps",
         "--enable-logging=stderr", "--v=0"]


def browse(page: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([BROWSER, *QUIET, *extra, page.as_uri()], capture_output=True, text=True,
                          timeout=120, cwd=out)


def page_requests(net_log: Path) -> list[str]:
    """URLs the page itself requested (Chromium marks its own requests' initiator 'not an origin')."""
    log = json.loads(net_log.read_text())
    start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    jobs = [event.get("params", {}) for event in log["events"] if event["type"] == start_job]
    return [job["url"] for job in jobs if "url" in job and job.get("initiator") != "not an origin"]


def test_there_is_an_example_report():
    assert EXAMPLE_REPORTS, "reports/ holds no report.html"


@pytest.mark.parametrize("report", EXAMPLE_REPORTS, ids=lambda p: str(p.relative_to(ROOT / "reports")))
def test_example_report_renders_with_no_console_message_and_no_external_request(report, tmp_path):
    shot, net_log = tmp_path / "report.png", tmp_path / "net.json"
    done = browse(report, tmp_path, f"--screenshot={shot}", "--window-size=1280,2400", f"--log-net-log={net_log}")
    assert done.returncode == 0, done.stderr[-2000:]
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    assert not console, console
    external = [url for url in page_requests(net_log) if not url.startswith(("file:", "data:", "blob:"))]
    assert not external, external
    # A drawn page: a blank 1280x2400 PNG compresses to a few kB.
    assert shot.stat().st_size > 40_000

    dom = browse(report, tmp_path, "--dump-dom")
    assert dom.returncode == 0
    for text in ("Forgetting", "decided", "domain_mc"):
        assert text in dom.stdout, text
