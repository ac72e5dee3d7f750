"""Telling the recruitment-ops team that a run failed: a JSON POST to a webhook (Slack / Teams / PagerDuty
style incoming hooks, or anything that takes JSON), an email through the one mail stack, or both —
whatever `operations.alerts` in config/warmpool.yaml names (`WARMPOOL_ALERT_WEBHOOK_URL`,
`WARMPOOL_ALERT_EMAIL`). Nothing configured: nobody is notified (the run-status file still records it).

A webhook that answers 5xx / 429 or cannot be reached is retried with exponential backoff; a 4xx is
the hook refusing the message and is not retried. An alert that cannot be delivered raises
`AlertNotDelivered` after the other channel was tried.
"""
from __future__ import annotations

import html
from dataclasses import asdict, dataclass
from typing import Callable

import httpx
import tenacity

from warmpool.config import Settings
from warmpool.mail import RelayMailer, compose

WEBHOOK_ATTEMPTS = 4
WEBHOOK_TIMEOUT_SECONDS = 10.0


class AlertNotDelivered(RuntimeError):
    """No configured channel took the alert (the message says which failed and why)."""


class _Retryable(Exception):
    pass


@dataclass(frozen=True)
class RunFailure:
    run_id: str
    job_name: str
    error: str
    failed_steps: tuple[str, ...] = ()
    ui_url: str | None = None  # the run's page in the Dagster UI, when known

    @property
    def subject(self) -> str:
        return f"Warmpool run failed: {self.job_name} ({self.run_id[:8]})"

    def text(self) -> str:
        lines = [self.subject, "", f"Run: {self.run_id}", f"Job: {self.job_name}"]
        if self.failed_steps:
            lines.append(f"Failed steps: {', '.join(self.failed_steps)}")
        if self.ui_url:
            lines.append(f"In the Dagster UI: {self.ui_url}")
        lines += ["", self.error.strip(), "",
                  "Re-running is safe: nothing loads, merges or sends twice (docs/operations.md)."]
        return "\n".join(lines)

    def payload(self) -> dict:
        return {"event": "run_failure", "text": self.subject, **asdict(self), "failed_steps": list(self.failed_steps)}


def post_webhook(url: str, payload: dict, *, attempts: int = WEBHOOK_ATTEMPTS, wait_seconds: float = 1.0,
                 client: httpx.Client | None = None) -> httpx.Response:
    """POST `payload` as JSON; retried with exponential backoff and jitter on 5xx, 429 and transport errors."""

    @tenacity.retry(stop=tenacity.stop_after_attempt(attempts), reraise=True,
                    wait=tenacity.wait_random_exponential(multiplier=wait_seconds, max=60 * wait_seconds),
                    retry=tenacity.retry_if_exception_type((_Retryable, httpx.TransportError)))
    def attempt(http: httpx.Client) -> httpx.Response:
        response = http.post(url, json=payload)
        if response.status_code >= 500 or response.status_code == 429:
            raise _Retryable(f"{url} answered {response.status_code}")
        response.raise_for_status()
        return response

    if client is not None:
        return attempt(client)
    with httpx.Client(timeout=WEBHOOK_TIMEOUT_SECONDS) as http:
        return attempt(http)


def notify_run_failure(failure: RunFailure, settings: Settings, *,
                       webhook: Callable[[str, dict], object] = post_webhook) -> list[str]:
    """Send the failure to every configured channel; returns the channels that took it ("webhook",
    "email"). AlertNotDelivered if a configured channel failed (after trying every one)."""
    ops, delivered, problems = settings.operations, [], []
    if ops.alert_webhook_url:
        try:
            webhook(ops.alert_webhook_url, failure.payload())
            delivered.append("webhook")
        except (httpx.HTTPError, _Retryable) as exc:
            problems.append(f"webhook {ops.alert_webhook_url}: {exc}")
    if ops.alert_email:
        message = compose(settings.smtp, to=ops.alert_email, subject=failure.subject, text=failure.text(),
                          html=f"<pre>{html.escape(failure.text())}</pre>")
        try:
            RelayMailer(settings.smtp).send(message)
            delivered.append("email")
        except Exception as exc:  # any SMTP or network failure: reported with the other channel's outcome
            problems.append(f"email to {ops.alert_email}: {exc!r}")
    if problems:
        raise AlertNotDelivered("; ".join(problems))
    return delivered

