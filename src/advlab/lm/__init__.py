"""White-box attacks on language models themselves, at a scale that runs on 2 CPU cores.

``advlab.lm`` holds a tiny decoder-only GPT trained in-process on a generated corpus with
planted canaries (:mod:`.model`, :mod:`.corpus`, :mod:`.tokenizer`, :mod:`.train`), and the
attacks on it: canary exposure (:mod:`.exposure`) and GCG adversarial suffixes with a
random-search baseline (:mod:`.gcg`). Attacks on language-model *applications* reached
through an API live in ``advlab.llm``.
"""
