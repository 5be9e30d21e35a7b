"""Detectors: plugins that judge a target's answer (did the attack work?).

``canary`` (secret leakage: exact, normalised, encoded, partial), ``refusal``,
``compliance`` (a jailbreak's success), ``substring`` and ``regex``, ``exfil_url``
(markdown images and links carrying data), ``tool_exfil`` (tool calls sending data) and
``llm_judge`` (any target as a judge). Each is measured on the shipped labelled set
(:mod:`advlab.llm.detectors.labelled`).
"""
