"""A campaign with a cron gets its own Dagster schedule: each tick asks for one run of the campaign
send job, tagged with the campaign and keyed by campaign and tick (a tick never starts two runs)."""
from __future__ import annotations

import datetime as dt

import dagster as dg

from assets.activation import CAMPAIGN_TAG, campaign_send_job
from assets.definitions import defs
from warmpool.campaigns.config import load_campaigns


def test_each_scheduled_campaign_has_a_schedule_with_run_keys():
    scheduled = {c.campaign_id: c.schedule for c in load_campaigns() if c.schedule}
    assert scheduled  # the shipped monthly sales campaign
    for campaign_id, cron in scheduled.items():
        schedule = defs.resolve_schedule_def(f"campaign_{campaign_id.replace('-', '_')}")
        assert schedule.cron_schedule == cron and schedule.job_name == campaign_send_job.name
        assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
        tick = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.timezone.utc)
        [request] = schedule.evaluate_tick(dg.build_schedule_context(scheduled_execution_time=tick)).run_requests
        assert request.tags[CAMPAIGN_TAG] == campaign_id and request.run_key == f"{campaign_id}:{tick.isoformat()}"
