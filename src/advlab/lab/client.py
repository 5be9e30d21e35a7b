"""A small client of the lab server (``advlab lab submit`` and notebooks use it).

Example::

    client = LabClient("http://127.0.0.1:8100", api_key=os.environ["ADVLAB_LAB_KEY"])
    card = client.challenge("evasion_whitebox")     # card + handout
    client.download("evasion_whitebox", "model.safetensors", "model.safetensors")
    verdict = client.submit("evasion_whitebox", Path("x_adv.npy").read_bytes())
    client.flag("evasion_whitebox", verdict["flag"])

:meth:`LabClient.target` returns an :class:`~advlab.targets.HttpClassifier` on a challenge's
predict endpoint, so advlab's black-box attacks run against the server, each query charged
to your budget; :meth:`LabClient.chat` and :meth:`LabClient.chat_target` do the same for the
chat challenges (module 6).
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

from advlab import secrets
from advlab.errors import AdvlabError

KEY_ENV = "ADVLAB_LAB_KEY"


class LabError(AdvlabError):
    """The server refused a request (the message is the server's reason)."""


class LabClient:
    """HTTP client of one lab server for one user (``api_key``, or ``$ADVLAB_LAB_KEY``)."""

    def __init__(self, url: str, *, api_key: str | None = None, timeout: float = 120.0) -> None:
        try:
            import httpx
        except ImportError as exc:  # pragma: no cover - the serve extra ships httpx
            raise ImportError("the lab client needs httpx: pip install 'advlab[serve]'") from exc
        self.url = url.rstrip("/")
        self.api_key = api_key if api_key is not None else os.environ.get(KEY_ENV, "")
        secrets.register(self.api_key)
        self._http = httpx.Client(base_url=self.url, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def _json(self, method: str, path: str, body: Any = None) -> Any:
        r = self._http.request(method, path, json=body, headers=self._headers())
        try:
            data = r.json()
        except ValueError:
            raise LabError(f"{method} {path}: HTTP {r.status_code}, not JSON") from None
        if r.status_code >= 400:
            raise LabError(f"{method} {path}: HTTP {r.status_code}: {data.get('error', data)}")
        return data

    def register(self, user: str) -> str:
        """Create ``user``; keeps and returns the new API key."""
        key = self._json("POST", "/api/register", {"user": user})["api_key"]
        self.api_key = str(key)
        secrets.register(self.api_key)
        return self.api_key

    def challenges(self) -> list[dict[str, Any]]:
        return self._json("GET", "/api/challenges")  # type: ignore[no-any-return]

    def challenge(self, name: str) -> dict[str, Any]:
        """The card with its ``handout`` and ``files``."""
        return self._json("GET", f"/api/challenges/{name}")  # type: ignore[no-any-return]

    def download(self, name: str, file: str, dest: str | Path | None = None) -> bytes:
        r = self._http.get(f"/api/challenges/{name}/files/{file}", headers=self._headers())
        if r.status_code >= 400:
            raise LabError(f"download {name}/{file}: HTTP {r.status_code}")
        if dest is not None:
            Path(dest).write_bytes(r.content)
        return r.content

    def predict(self, name: str, inputs: Any) -> dict[str, Any]:
        return self._json("POST", f"/api/challenges/{name}/predict", {"inputs": inputs})  # type: ignore[no-any-return]

    def chat(self, name: str, prompts: list[str]) -> list[str]:
        """The replies of a chat challenge (access ``text``) to single-turn ``prompts``; each
        prompt costs one query."""
        return list(self.predict(name, list(prompts))["outputs"])

    def chat_target(self, name: str) -> Any:
        """A chat challenge as an :class:`~advlab.llm.LLMTarget` (its last user message is
        sent as one prompt), so advlab's probes run against the server on your budget."""
        from advlab.llm.base import CallableTarget

        def respond(messages: list[Any], params: Any = None) -> str:
            users = [m.content for m in messages if m.role == "user"]
            return self.chat(name, [users[-1] if users else ""])[0]

        return CallableTarget(respond, name=f"lab-{name}")

    def target(self, name: str, *, returns: str = "probs") -> Any:
        """An HttpClassifier on the challenge's predict endpoint (queries use your budget)."""
        from advlab.targets import HttpClassifier

        handout = self.challenge(name)["handout"]
        env = "ADVLAB_LAB_TARGET_KEY"
        os.environ[env] = self.api_key
        return HttpClassifier(
            f"{self.url}/api/challenges/{name}/predict",
            input_shape=tuple(handout["input_shape"]),
            num_classes=int(handout["num_classes"]),
            bounds=tuple(handout.get("bounds", (0.0, 1.0))),
            returns=returns,
            api_key_env=env,
        )

    def submit(self, name: str, data: bytes, filename: str = "submission") -> dict[str, Any]:
        """Grade ``data``; the verdict holds ``flag`` when solved."""
        body = {"data": base64.b64encode(data).decode(), "filename": filename}
        return self._json("POST", f"/api/challenges/{name}/submit", body)  # type: ignore[no-any-return]

    def flag(self, name: str, flag: str) -> dict[str, Any]:
        return self._json("POST", "/api/flag", {"challenge": name, "flag": flag})  # type: ignore[no-any-return]

    def scoreboard(self) -> list[dict[str, Any]]:
        return self._json("GET", "/api/scoreboard")  # type: ignore[no-any-return]
