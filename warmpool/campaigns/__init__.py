"""Campaigns: declared in ``config/campaigns/*.yaml``, materialised as audience files, sent over SMTP
exactly once per recipient and content version (the send ledger is the truth).

Plain functions with no orchestration imports; the Dagster assets in ``assets/`` call them.
"""
