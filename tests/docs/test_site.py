"""The documentation site's sources: every page is in the nav, every API reference module
exists, and the docs speak of the project only. (`make docs` builds the site in strict mode.)"""

from __future__ import annotations

import importlib
import importlib.util
import re

import yaml
from snippets import PAGES, ROOT


def _nav_files(node: object) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [f for v in node.values() for f in _nav_files(v)]
    if isinstance(node, list):
        return [f for v in node for f in _nav_files(v)]
    return []


def test_nav_lists_every_page_and_the_api_modules_exist() -> None:
    cfg = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    nav = set(_nav_files(cfg["nav"]))
    pages = {p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs").rglob("*.md")}
    assert pages == nav, f"not in the nav: {sorted(pages - nav)}; missing: {sorted(nav - pages)}"
    for page in (ROOT / "docs" / "api").glob("*.md"):
        for mod in re.findall(r"^::: ([\w.]+)$", page.read_text(), re.M):
            importlib.import_module(mod)


def test_docs_speak_of_the_project_only() -> None:
    internal = re.compile(r"\b(issue|session)\s+#?\d+", re.I)
    for page in [*PAGES, *(ROOT / "docs").rglob("*.md"), ROOT / "examples" / "README.md"]:
        for n, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
            assert not internal.search(line), f"{page.name}:{n}: {line.strip()}"


def test_every_tutorial_has_a_page_rendered_from_its_current_source() -> None:
    """The site shows each tutorial's executed output; a page rendered from an older source
    (its recorded hash differs) means ``docs/tutorials/render.py`` must be run again."""
    spec = importlib.util.spec_from_file_location("render", ROOT / "docs/tutorials/render.py")
    assert spec is not None and spec.loader is not None
    render = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(render)
    sources = sorted((ROOT / "docs" / "tutorials").glob("[0-9][0-9]*_*.py"))
    assert len(sources) >= 7
    for src in sources:
        page = ROOT / "docs" / "tutorials" / "rendered" / f"{src.stem}.md"
        assert page.exists(), f"no rendered page for {src.name}: run docs/tutorials/render.py"
        assert render.recorded_hash(page) == render.source_hash(src), (
            f"{page.name} was rendered from an older {src.name}: "
            f"run python docs/tutorials/render.py {src.stem}"
        )
        text = page.read_text(encoding="utf-8")
        assert "Traceback (most recent call last)" not in text, page.name
        for image in re.findall(r"\]\((images/[^)]+)\)", text):
            assert (page.parent / image).is_file(), f"{page.name} shows a missing {image}"
