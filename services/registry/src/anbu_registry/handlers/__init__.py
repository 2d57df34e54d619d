"""The registry's service layer, one module per area; each function runs in one transaction.

Changes to households and workers stage their new snapshots (no personal data) in the
outbox in the same transaction; every read of personal data writes an audit row.
"""
