"""Reference solutions of the lab's challenges (kept out of the package and the docs).

Each module is named after its challenge and defines ``solve(client) -> (bytes, filename)``,
which earns the flag against a running server, and ``cheats(client) -> [(what, bytes,
word)]``: bad or cheating submissions the grader must refuse with ``word`` in its reason.
"""
