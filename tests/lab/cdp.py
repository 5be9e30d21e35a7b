"""A minimal Chrome DevTools Protocol client over ``--remote-debugging-pipe`` (no websocket
library): headless Chromium reads JSON commands on fd 3 and writes answers on fd 4, each
message ending in a NUL byte."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"


class Chrome:
    """One headless Chromium with one page attached in flat mode."""

    def __init__(self, profile: Path) -> None:
        assert Path(CHROMIUM).exists(), "chromium is required: apt-get install -y chromium"
        r, self._w = os.pipe()
        self._r, w = os.pipe()
        # copies numbered 10 and above, so that the shell's redirections to 3 and 4 below
        # cannot overwrite one of them
        to_chrome_r, from_chrome_w = (
            fcntl.fcntl(r, fcntl.F_DUPFD, 10),
            fcntl.fcntl(w, fcntl.F_DUPFD, 10),
        )
        os.close(r)
        os.close(w)
        args = [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-extensions",
            "--remote-debugging-pipe",
            f"--user-data-dir={profile}",
            "--window-size=1200,1600",
            "about:blank",
        ]
        # bash (dash takes one-digit fds only) moves the pipes to fds 3 and 4 and execs chromium: no Python code runs
        # between fork and exec (this process has threads: the server, torch)
        script = f'exec "$@" 3<&{to_chrome_r} 4>&{from_chrome_w}'
        self.proc = subprocess.Popen(
            ["/bin/bash", "-c", script, "bash", *args],
            pass_fds=(to_chrome_r, from_chrome_w),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._id = 0
        self._buf = b""
        self.events: list[dict[str, Any]] = []
        page = next(t for t in self.call("Target.getTargets")["targetInfos"] if t["type"] == "page")
        self.session = self.call("Target.attachToTarget", targetId=page["targetId"], flatten=True)[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log"):
            self.page(f"{domain}.enable")

    def _read(self, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while b"\0" not in self._buf:
            if time.monotonic() > deadline:
                raise TimeoutError("chromium did not answer")
            chunk = os.read(self._r, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the pipe")
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)  # type: ignore[no-any-return]

    def call(self, method: str, session: str | None = None, **params: Any) -> Any:
        self._id += 1
        msg: dict[str, Any] = {"id": self._id, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        while True:
            answer = self._read(60)
            if answer.get("id") == self._id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            self.events.append(answer)

    def page(self, method: str, **params: Any) -> Any:
        return self.call(method, self.session, **params)

    def js(self, expression: str) -> Any:
        """Evaluate ``expression`` in the page (promises awaited); its JSON value."""
        out = self.page(
            "Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True
        )
        if "exceptionDetails" in out:
            raise RuntimeError(f"{expression!r}: {out['exceptionDetails']}")
        return out["result"].get("value")

    def wait(self, expression: str, timeout: float = 60.0) -> Any:
        """Poll ``expression`` until it is truthy; return its value."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.js(expression)
            if value:
                return value
            time.sleep(0.1)
        raise TimeoutError(f"never true: {expression}")

    def set_file(self, selector: str, path: Path) -> None:
        root = self.page("DOM.getDocument")["root"]["nodeId"]
        node = self.page("DOM.querySelector", nodeId=root, selector=selector)["nodeId"]
        self.page("DOM.setFileInputFiles", nodeId=node, files=[str(path)])

    def errors(self) -> list[dict[str, Any]]:
        """Uncaught exceptions and console errors seen so far."""
        bad = []
        for e in self.events:
            if e.get("method") == "Runtime.exceptionThrown":
                bad.append(e)
            elif e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error":
                bad.append(e)
            elif e.get("method") == "Runtime.consoleAPICalled" and e["params"]["type"] == "error":
                bad.append(e)
        return bad

    def close(self) -> None:
        try:
            self.call("Browser.close")
        except (RuntimeError, OSError, TimeoutError):
            self.proc.kill()
        self.proc.wait(timeout=30)
        os.close(self._r)
        os.close(self._w)
