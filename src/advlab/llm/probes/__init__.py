"""Probes: plugins that generate attacks on an LLM application, judged by detectors.

One family per module, its paper in the docstring: ``prompt_injection`` (direct, goal
hijacking), ``indirect_injection`` (documents, emails, web pages, tool outputs),
``prompt_leak`` (system prompt and secrets), ``jailbreak`` (role play, refusal
suppression, prefix injection, many-shot), ``exfiltration`` (markdown images, links, tool
calls), ``pair`` (attacker-model refinement) and ``crescendo`` (multi-turn escalation).
:func:`advlab.llm.probes.runner.run_probe` runs one through the harness;
:mod:`advlab.llm.scan` runs a whole scan into a run directory.
"""
