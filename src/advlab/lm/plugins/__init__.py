"""The attacks on a language model itself as plugins (family ``lm``), one per module."""
