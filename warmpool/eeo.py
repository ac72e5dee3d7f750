"""EEO self-identification: which fields they are, and the rule that nothing may select people by them.

Applicants' voluntary answers (race or ethnicity, gender, veteran and disability status) are kept
apart from the candidate profile (``raw_eeo``) and reach dashboards only as counts with small cells
suppressed (``marts.rpt_eeo_applicants``). No segment, audience, search or saved-search filter may
name them: every filter compiler calls ``refuse_eeo_filters`` on the fields it is given.
"""
from __future__ import annotations

import re
from typing import Iterable

EEO_FIELDS = frozenset({"race", "ethnicity", "gender", "sex", "veteran_status", "veteran", "disability_status",
                        "disability", "eeo", "eeoc", "self_identification"})


class EeoFilterError(ValueError):
    """A filter named an EEO self-identification field."""


def is_eeo_field(name: str) -> bool:
    """True for an EEO field under any spelling a filter might use (``Gender``, ``eeo_race``, ``race__description``)."""
    text = str(name).strip().lower().replace("-", "_").replace(" ", "_")
    parts = set(re.split(r"_+|\.", text)) | {text, text.split("__")[0]}
    return bool(parts & EEO_FIELDS)


def refuse_eeo_filters(fields: Iterable[str], where: str) -> None:
    """EeoFilterError naming ``where`` and the field if any of ``fields`` is an EEO field."""
    for name in fields:
        if is_eeo_field(name):
            raise EeoFilterError(f"{where}: {name!r} is EEO self-identification data, which may never select, "
                                 "segment or filter people; it is reported only in aggregate (docs/privacy.md)")
