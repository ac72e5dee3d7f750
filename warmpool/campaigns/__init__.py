"""Campaigns: declared in ``config/campaigns/*.yaml``, materialised as audience files, sent over SMTP
exactly once per recipient and content version (the send ledger is the truth).

``config`` (files, sequences, A/B variants) · ``audience`` (files) · ``ledger`` (exactly-once, pauses,
replies, provider-list state) · ``message`` · ``sender`` · ``sequence`` (drip) · ``abtest`` ·
``guard`` (reputation) · ``replies`` · ``provider_lists`` (SendGrid contact lists) · ``operations``
(what the CLI and Dagster ask of a campaign) · ``erasure`` (``forget_people``: remove a person from
every campaign store). Segments are ``warmpool.segments``. Plain functions with no orchestration
imports; the Dagster assets in ``assets/`` call them. docs/campaigns.md is the marketers' guide.
"""
