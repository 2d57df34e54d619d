"""The gateway's pure core: envelopes, CSV columns, validation reports, rate limits, rewards.

Nothing here does I/O; the adapters and handlers pass in what it needs (time included).
"""
