"""The HTML report in a real headless Chromium (Debian's /usr/bin/chromium, driven over the
DevTools protocol with `websockets`): click a finding, the audio jumps there; no console
errors; hostile transcript text stays text; verdicts made on the page import back.

Chromium comes from `scripts/setup_browser.sh`; without it these tests are skipped (set
CALLQA_REQUIRE_BROWSER=1 to fail instead). CALLQA_SCREENSHOT_DIR keeps the screenshots.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.helpers.reporting_data import HOSTILE, build_db

pytestmark = pytest.mark.slow  # a real Chromium

CHROMIUM = os.environ.get("CALLQA_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--autoplay-policy=no-user-gesture-required", "--mute-audio", "--window-size=1280,1000",
         "--remote-debugging-port=0", "--remote-allow-origins=*"]

if not Path(CHROMIUM).is_file():
    if os.environ.get("CALLQA_REQUIRE_BROWSER"):
        raise RuntimeError(f"Chromium not found at {CHROMIUM}; run scripts/setup_browser.sh")
    pytest.skip(f"Chromium not found at {CHROMIUM} (run scripts/setup_browser.sh)", allow_module_level=True)


class Page:
    """A minimal DevTools-protocol client for one page target."""

    def __init__(self, ws_url: str):
        from websockets.sync.client import connect

        self.ws = connect(ws_url, max_size=None, open_timeout=30)
        self.next_id = 0
        self.events: list[dict] = []
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable")

    def call(self, method: str, timeout: float = 30.0, **params) -> dict:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            msg = json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def pump(self, seconds: float) -> None:
        """Collect events for a while."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            try:
                self.events.append(json.loads(self.ws.recv(timeout=left)))
            except TimeoutError:
                break

    def js(self, expression: str):
        res = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in res:
            raise RuntimeError(f"JS error in {expression!r}: {res['exceptionDetails']}")
        return res["result"].get("value")

    def goto(self, url: str) -> None:
        self.events.clear()
        self.call("Page.navigate", url=url)
        deadline = time.monotonic() + 30
        while not any(e.get("method") == "Page.loadEventFired" for e in self.events):
            if time.monotonic() > deadline:
                raise TimeoutError(f"page did not load: {url}")
            self.pump(0.2)

    def click(self, selector: str) -> None:
        """A real mouse click (a user gesture) in the middle of the element."""
        box = self.js(f"(() => {{ const el = document.querySelector({json.dumps(selector)});"
                      " el.scrollIntoView({block: 'center'}); const r = el.getBoundingClientRect();"
                      " return [r.x + r.width / 2, r.y + r.height / 2]; })()")
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1], button="left", clickCount=1)

    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions, failed loads and CSP violations seen so far."""
        out = []
        for e in self.events:
            m, p = e.get("method"), e.get("params", {})
            if m == "Runtime.exceptionThrown":
                out.append(json.dumps(p.get("exceptionDetails", {}))[:300])
            elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append(str([a.get("value") for a in p.get("args", [])]))
            elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                out.append(p["entry"].get("text", ""))
        return out

    def screenshot(self, path: Path) -> Path:
        import base64

        path.write_bytes(base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"]))
        keep = os.environ.get("CALLQA_SCREENSHOT_DIR")
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(keep) / path.name)
        return path

    def close(self) -> None:
        self.ws.close()


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory, test_data, sample_calls, cfg):
    from callqa.report import build_report

    root = tmp_path_factory.mktemp("browser")
    db = build_db(root / "qa.duckdb", test_data / "calls", sample_calls)
    build_report(db, root / "report", cfg)
    return root


@pytest.fixture(scope="module")
def page(report_dir):
    profile = report_dir / "profile"
    proc = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        port, deadline = None, time.monotonic() + 60
        while port is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line and proc.poll() is not None:
                raise RuntimeError("chromium exited before DevTools came up")
            m = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line)
            port = int(m.group(1)) if m else None
        assert port, "DevTools endpoint not announced"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as resp:
            targets = json.load(resp)
        target = next(t for t in targets if t.get("type") == "page")
        p = Page(target["webSocketDebuggerUrl"])
        yield p
        p.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_click_finding_seeks_audio(page, report_dir, tmp_path):
    from callqa.report import slug

    call_page = report_dir / "report" / "calls" / f"{slug('dev_call_05')}.html"
    page.goto(call_page.as_uri())
    assert page.js("document.getElementById('player').readyState") >= 0
    row = page.js("(() => { const r = [...document.querySelectorAll('#findings tr.finding')]"
                  ".find(r => r.dataset.kind === 'threat'); return [r.id, r.querySelector('[data-seek]').dataset.seek]; })()")
    anchor, start = row[0], float(row[1])
    assert start > 5
    page.click(f"#{anchor} button.seek")
    deadline, now = time.monotonic() + 10, -1.0
    while time.monotonic() < deadline:
        now = page.js("document.getElementById('player').currentTime")
        if start - 0.05 <= now <= start + 3.0:
            break
        page.pump(0.1)
    assert start - 0.05 <= now <= start + 3.0, f"audio at {now}, finding at {start}"
    assert page.js("document.querySelector('li.utt.target').id") == page.js(
        f"document.querySelector('#{anchor} button.seek').dataset.target")
    # the flagged utterance is highlighted and its transcript text is there
    assert page.js("document.querySelectorAll('li.utt.flagged').length") >= 2
    page.pump(0.5)
    shot = page.screenshot(tmp_path / "call_dev_call_05.png")
    assert shot.stat().st_size > 10_000
    assert page.errors() == []


def test_overview_and_queue_pages_load_cleanly(page, report_dir, tmp_path):
    page.goto((report_dir / "report" / "index.html").as_uri())
    assert page.js("document.querySelectorAll('svg.chart').length") >= 3
    assert page.js("document.getElementById('kpi-breaches').textContent") != "0"
    page.screenshot(tmp_path / "overview.png")
    assert page.errors() == []


def test_hostile_transcript_is_text(page, report_dir):
    html = next((report_dir / "report" / "calls").glob("syn__b3*.html"))
    page.goto(html.as_uri())
    page.pump(0.5)
    assert not any(e.get("method") == "Page.javascriptDialogOpening" for e in page.events)
    assert page.js("document.querySelector('li.utt .text').textContent") == HOSTILE
    assert page.js("document.querySelectorAll('main script, main img').length") == 0
    assert page.js("document.getElementById('audio-missing') !== null")
    assert page.errors() == []


def test_verdicts_from_the_queue_import_back(page, report_dir, cfg):
    from warehouse.reporting import Reports
    from warehouse.review import import_csv

    page.goto((report_dir / "report" / "queue.html").as_uri())
    page.js("localStorage.clear()")
    page.js("document.getElementById('reviewer').value = 'qa-lead'")
    first = page.js("document.querySelector('#queue tr.finding').dataset.finding")
    page.click("#queue tr.finding button[data-verdict=rejected]")
    assert page.js("document.querySelector('#queue tr.finding').classList.contains('local-rejected')")
    assert page.js("document.getElementById('verdict-count').textContent") == "1"
    csv_text = page.js("window.callqaVerdictsCsv()")
    assert first in csv_text and ",rejected," in csv_text and "qa-lead" in csv_text
    path = report_dir / "verdicts.csv"
    path.write_text(csv_text, encoding="utf-8")
    result = import_csv(report_dir / "qa.duckdb", path, "someone")
    assert (result.added, result.errors) == (1, [])
    with Reports(report_dir / "qa.duckdb", cfg.compliance) as rep:
        reviewed = {r["finding_id"]: (r["verdict"], r["reviewer"]) for r in rep.flagged() if r["verdict"]}
    assert reviewed == {first: ("rejected", "qa-lead")}
    assert page.errors() == []
