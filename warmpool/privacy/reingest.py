"""The do-not-reingest check ingestion runs on every record before loading it.

After an erasure, the person's sources (the ATS, a vendor's file re-delivered, a full re-load) still
hold them. Each loader asks ``DoNotReingest.blocks`` with the record's identifiers; a hit is not
loaded, and the loader quarantines a row saying so (source, file and row or ATS id, no personal
data), so the hits are counted where every other refused row is.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from warmpool.config import Settings, get_settings
from warmpool.privacy.keys import EMAIL, PHONE, PROFILE_URL, Keyer
from warmpool.privacy.store import privacy_store

REASON = ("the record belongs to a person erased on their request (do-not-reingest list): not loaded. "
          "Delete it in the source system too")
FIELD = "_erased"


@dataclass
class DoNotReingest:
    keys: frozenset[str]
    keyer: Keyer | None
    hits: list[tuple[str, str, int]] = field(default_factory=list)  # (source, file or endpoint, row or id)

    @classmethod
    def load(cls, settings: Settings | None = None) -> "DoNotReingest":
        """The list as it stands; with nothing on it, no key is needed (and none is asked for)."""
        s = settings or get_settings()
        if not (s.privacy_dir / "privacy.sqlite").exists():
            return cls(frozenset(), None)
        with privacy_store(s) as store:
            keys = store.do_not_reingest()
        return cls(keys, Keyer.from_settings(s) if keys else None)

    def __bool__(self) -> bool:
        return bool(self.keys)

    def blocks(self, *, source: str, source_record_id: object = None, emails: Iterable[object] = (),
               phones: Iterable[object] = (), profile_urls: Iterable[object] = ()) -> bool:
        if not self.keys or self.keyer is None:
            return False
        candidates = set()
        if source_record_id not in (None, ""):
            candidates.add(self.keyer.record_key(source, source_record_id))
        for kind, values in ((EMAIL, emails), (PHONE, phones), (PROFILE_URL, profile_urls)):
            candidates |= self.keyer.keys(kind, values)
        return not candidates.isdisjoint(self.keys)

    def hit(self, source: str, where: str, row: int) -> None:
        self.hits.append((source, where, int(row)))
