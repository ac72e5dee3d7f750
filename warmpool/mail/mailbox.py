"""The folder of sent mail (``Settings.mailbox_dir``): one ``.eml`` per message, as the sandbox's SMTP
server or a relay's archive writes them. Erasure removes every message that names the person."""
from __future__ import annotations

from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Iterable


def forget_recipient(mailbox_dir: Path | str, identifiers: Iterable[str]) -> int:
    """Delete every message whose bytes mention one of ``identifiers`` (addresses, phone numbers;
    compared lower-cased): mail to the person and mail about them (a referral notice). Returns how many."""
    needles = [str(i).strip().lower().encode("utf-8") for i in identifiers if i and str(i).strip()]
    removed = 0
    folder = Path(mailbox_dir)
    for path in sorted(folder.glob("*.eml")) if folder.is_dir() and needles else []:
        body = path.read_bytes().lower()
        if any(n in body for n in needles):
            path.unlink()
            removed += 1
    return removed


def messages_mentioning(mailbox_dir: Path | str, identifiers: Iterable[str]) -> list[dict[str, str]]:
    """File, date, recipient and subject of every message mentioning one of ``identifiers`` (an access export)."""
    needles = [str(i).strip().lower().encode("utf-8") for i in identifiers if i and str(i).strip()]
    folder = Path(mailbox_dir)
    found = []
    for path in sorted(folder.glob("*.eml")) if folder.is_dir() and needles else []:
        raw = path.read_bytes()
        if any(n in raw.lower() for n in needles):
            message = BytesParser(policy=policy.default).parsebytes(raw, headersonly=True)
            found.append({"file": path.name, "date": str(message["Date"] or ""), "to": str(message["To"] or ""),
                          "subject": str(message["Subject"] or ""), "message_id": str(message["Message-ID"] or "")})
    return found
