"""The lab's page end to end in headless Chromium (DevTools protocol over a pipe): the list,
registration, a wrong answer refused, a text answer and a file upload solved through the
page's forms, the flag accepted, the scoreboard updated; a screenshot for the docs."""

from __future__ import annotations

import json
import os
from pathlib import Path

from cdp import Chrome
from solutions.evasion_whitebox import solve as solve_whitebox
from solutions.threat_model import ANSWER

ROOT = Path(__file__).resolve().parents[2]
SHOT = ROOT / "docs" / "images" / "lab.png"


def _fill(chrome: Chrome, selector: str, value: str) -> None:
    chrome.js(f"document.querySelector({json.dumps(selector)}).value = {json.dumps(value)}")


def _submit(chrome: Chrome, form: str) -> None:
    chrome.js(f"document.getElementById({json.dumps(form)}).requestSubmit()")


def _text(selector: str) -> str:
    return f"((document.querySelector({json.dumps(selector)}) || {{}}).textContent || '')"


def test_solve_through_the_page(lab_url: str, tmp_path: Path) -> None:
    from advlab.lab.client import LabClient

    # the white-box solution computed outside the browser, uploaded through the page
    helper = LabClient(lab_url)
    helper.register("browser-helper")
    x_adv, _ = solve_whitebox(helper)
    upload = tmp_path / "x_adv.npy"
    upload.write_bytes(x_adv)

    chrome = Chrome(tmp_path / "profile")
    try:
        chrome.page("Page.navigate", url=lab_url + "/")
        chrome.wait("document.body && document.body.getAttribute('data-ready') === '1'")
        n = int(chrome.js("document.getElementById('challenge-list').getAttribute('data-loaded')"))
        assert n >= 8
        assert chrome.js("!!document.getElementById('ch-evasion_whitebox')")
        assert "threat model" in chrome.js(_text("#ch-threat_model details")).lower()

        _fill(chrome, "#register-user", "browser-student")
        _submit(chrome, "register-form")
        chrome.wait("document.body.getAttribute('data-user') === 'browser-student'")
        assert "Signed in as browser-student" in chrome.js(_text("#whoami"))
        assert chrome.js(_text("#api-key")).startswith("lab-")

        # a wrong answer is refused with the reason
        wrong = json.loads(json.dumps(ANSWER))
        wrong["C"]["phase"] = "deployment"
        _fill(chrome, "#text-threat_model", json.dumps(wrong))
        _submit(chrome, "form-threat_model")
        refused = chrome.wait(f"{_text('#result-threat_model')}.startsWith('Not solved')")
        assert "2 of 3" in chrome.js(_text("#result-threat_model")), refused

        # the right answer, typed into the form
        _fill(chrome, "#text-threat_model", json.dumps(ANSWER))
        _submit(chrome, "form-threat_model")
        chrome.wait(f"{_text('#result-threat_model')}.startsWith('Solved')")
        flag = chrome.js(_text("#flagout-threat_model"))
        assert flag.startswith("advlab{")

        # a file uploaded through the page
        chrome.set_file("#file-evasion_whitebox", upload)
        _submit(chrome, "form-evasion_whitebox")
        chrome.wait(f"{_text('#result-evasion_whitebox')}.startsWith('Solved')", timeout=120)
        flag2 = chrome.js(_text("#flagout-evasion_whitebox"))

        for name, f in (("threat_model", flag), ("evasion_whitebox", flag2)):
            _fill(chrome, f"#flag-{name}", f)
            _submit(chrome, f"flagform-{name}")
            chrome.wait(f"{_text('#flagres-' + name)}.startsWith('Accepted')")

        row = "document.querySelector('#scoreboard tr[data-user=\"browser-student\"]')"
        # both acceptances refresh the scoreboard; wait for the second one
        chrome.wait(f"!!{row} && {row}.children[2].textContent === '200'")
        cells = chrome.js(f"Array.from({row}.children).map(c => c.textContent)")
        assert (
            int(cells[2]) == 200 and "evasion_whitebox" in cells[3] and "threat_model" in cells[3]
        )
        for name in ("threat_model", "evasion_whitebox"):
            chrome.wait(f"document.getElementById('ch-{name}').classList.contains('solved')")
        assert not chrome.errors(), chrome.errors()

        shot = chrome.page("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        png = __import__("base64").b64decode(shot["data"])
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
        if os.environ.get("ADVLAB_WRITE_DOCS_IMAGES"):
            SHOT.write_bytes(png)
    finally:
        chrome.close()
    helper.close()


def test_docs_screenshot_present() -> None:
    assert SHOT.is_file() and SHOT.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "images/lab.png" in (ROOT / "docs" / "lab.md").read_text()
