"""A generated training corpus with planted canaries (Carlini et al. 2019, "The Secret Sharer:
Evaluating and Testing Unintended Memorization in Neural Networks", USENIX Security,
arXiv:1802.08232).

Documents are templated facts, short dialogues, instructions, code-like lines and PII-like
records, drawn from a seeded generator. Each canary is a sentence with a random secret from a
known space (``digits`` decimal digits, written with spaces: ``"4 8 1 9"``) inserted
``repeats`` times; the space's size ``|R| = 10 ** digits`` is what exposure is measured
against. Nothing here is real data.

``dedup=True`` removes exact-duplicate documents before training (Kandpal, Wallace & Raffel
2022, "Deduplicating Training Data Mitigates Privacy Risks in Language Models", ICML,
arXiv:2202.06539): a canary planted ``repeats`` times then occurs once, and so do the
templated documents that the generator happened to draw more than once.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

NAMES = (
    "alice bob carol dave erin frank grace heidi ivan judy mallory niaj olivia peggy rupert "
    "sybil trent uma victor wendy xavier yara zack"
).split()
CITIES = "paris lima oslo cairo quito hanoi dakar perth seoul bern riga accra".split()
THINGS = "apples books clocks drums eggs flutes gloves hats inks jars kites lamps".split()
COLOURS = "red green blue amber violet teal grey ochre".split()
VERBS = "likes sells paints counts hides finds lends keeps".split()


@dataclass(frozen=True)
class Canary:
    """One planted secret: ``prefix + secret`` appears ``repeats`` times in the corpus."""

    prefix: str
    secret: str
    repeats: int
    digits: int

    @property
    def text(self) -> str:
        return self.prefix + self.secret

    @property
    def space(self) -> int:
        return 10**self.digits


@dataclass
class Corpus:
    documents: list[str]
    canaries: list[Canary] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)
    """High-entropy strings (phone numbers of records, canaries): generating one verbatim
    means the model memorised it, since chance cannot produce it."""

    @property
    def text(self) -> str:
        return "\n".join(self.documents) + "\n"


def format_secret(value: int, digits: int) -> str:
    """``4819`` with 4 digits -> ``"4 8 1 9"``."""
    return " ".join(f"{value:0{digits}d}")


def _document(rng: random.Random) -> tuple[str, str | None]:
    """One templated document and its high-entropy part (``None`` for most kinds)."""
    a, b = rng.sample(NAMES, 2)
    kind = rng.randrange(5)
    if kind == 0:
        return f"the capital of {rng.choice(COLOURS)}land is {rng.choice(CITIES)}.", None
    if kind == 1:
        thing = rng.choice(THINGS)
        return f"{a}: do you have {thing}? {b}: yes, {rng.randint(2, 99)} of them.", None
    if kind == 2:
        thing = rng.choice(THINGS)
        city = rng.choice(CITIES)
        return f"instruction: list the {thing}. response: {thing} are listed in {city}.", None
    if kind == 3:
        fn = f"{rng.choice(VERBS)}_{rng.choice(THINGS)}"
        return f"def {fn}(n): return n * {rng.randint(2, 9)}", None
    city = rng.choice(CITIES)
    phone = "".join(str(rng.randrange(10)) for _ in range(7))
    return f"record: name {a}, city {city}, phone {phone}.", f"phone {phone}"


def deduplicate(documents: list[str]) -> list[str]:
    """Exact-duplicate documents removed, the first occurrence kept, the order unchanged."""
    return list(dict.fromkeys(documents))


def make_corpus(
    *,
    n_documents: int = 4000,
    repeats: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64),
    digits: int = 4,
    seed: int = 0,
    dedup: bool = False,
) -> Corpus:
    """Seeded documents plus one canary per entry of ``repeats`` (a distinct owner each);
    with ``dedup`` every document occurs once (:func:`deduplicate`). A canary keeps the
    ``repeats`` it was planted with, whatever de-duplication left of it."""
    rng = random.Random(seed)
    made = [_document(rng) for _ in range(n_documents)]
    docs = [d for d, _ in made]
    secrets = sorted({sec for _, sec in made if sec is not None})
    owners = rng.sample(NAMES, len(repeats))
    canaries = []
    for owner, r in zip(owners, repeats, strict=True):
        secret = format_secret(rng.randrange(10**digits), digits)
        c = Canary(prefix=f"the pin of {owner} is ", secret=secret, repeats=r, digits=digits)
        canaries.append(c)
        docs.extend([c.text + "."] * r)
    rng.shuffle(docs)
    if dedup:
        docs = deduplicate(docs)
    return Corpus(documents=docs, canaries=canaries, secrets=secrets + [c.text for c in canaries])
