"""The numbers privacy runs on, from the ``privacy:`` section of the configuration (every one is a
setting, not code; docs/privacy.md says where each default comes from)."""
from __future__ import annotations

from dataclasses import dataclass

from warmpool.config import Settings, get_settings


@dataclass(frozen=True)
class PrivacyRules:
    erasure_deadline_days: int = 30         # GDPR Art. 12(3): answer within one month
    no_consent_retention_days: int = 730    # CNIL: unsuccessful candidates, 2 years after the last active contact
    applicant_hold_days: int = 730          # 41 CFR 60-1.12: 2 years (29 CFR 1602.14, Title VII: 1 year)

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> "PrivacyRules":
        section = (settings or get_settings()).raw.get("privacy") or {}
        unknown = set(section) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"privacy: unknown setting(s) {sorted(unknown)} in the configuration; "
                             f"known: {sorted(cls.__dataclass_fields__)}")
        values = {k: int(v) for k, v in section.items()}
        bad = [k for k, v in values.items() if v < 1]
        if bad:
            raise ValueError(f"privacy: {', '.join(bad)} must be a positive number of days")
        return cls(**values)
