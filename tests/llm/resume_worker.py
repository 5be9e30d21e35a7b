"""A harness run in its own process, for the kill -9 / resume test.

Usage: ``python resume_worker.py URL JOURNAL OUT N`` — sends N requests to ``level-1`` of
the serve-llm app at URL with the journal at JOURNAL, then writes the texts and the
summary to OUT as JSON.
"""

from __future__ import annotations

import json
import sys

from advlab.llm import Harness, OpenAIChatTarget, Request, user


def main() -> None:
    url, journal, out, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    requests = [Request(id=f"r{i}", messages=(user(f"resume question {i}"),)) for i in range(n)]
    target = OpenAIChatTarget(url, model="level-1")
    result = Harness(target, concurrency=2, journal=journal).run(requests)
    with open(out, "w", encoding="utf-8") as fh:
        json.dump({"texts": [a.text for a in result.attempts], "summary": result.summary()}, fh)


if __name__ == "__main__":
    main()
