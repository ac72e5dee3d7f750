"""Privacy carried out: access exports, erasure through every store, the do-not-reingest list,
legal holds, retention and auditor exports (docs/privacy.md)."""
