"""Notifier domain: who can be reached how, when, and what the outcome of a request is.

Pure code: no I/O, no clocks (the caller passes ``now``), no randomness (the caller passes
the jitter). Rendering reads template files, nothing else.
"""
