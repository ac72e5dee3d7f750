"""Activation: audience files for marketers and the campaign send over SMTP."""
import dagster as dg

from assets.dbt_project import source_tables
from assets.resources import (NETWORK_RETRY, WAREHOUSE_POOL, ProviderListResource, SmtpResource, WarehouseResource, WebStoreResource,
                              run_settings)
from pipelines.send_ledger import run_send_ledger
from warmpool import tables
from warmpool.campaigns.audience import members_by_campaign, write_audience_csv
from warmpool.campaigns.config import load_campaigns
from warmpool.campaigns.guard import GUARD, check_reputation
from warmpool.campaigns.operations import send_now
from warmpool.campaigns.provider_lists import provider_list_suppression, sync_audience
from warmpool.campaigns.sender import WebStoreSuppression, open_ledger
from warmpool.identity.store import IdentityStore

AUDIENCE_KEY = dg.AssetKey(tables.AUDIENCE_MEMBERS.split("."))


@dg.asset(deps=[AUDIENCE_KEY], group_name="activation", kinds={"csv"}, pool=WAREHOUSE_POOL,
          retry_policy=NETWORK_RETRY,  # the provider's list API
          description="One CSV per campaign in email-provider import columns, under data/audiences/, and "
                      "(when campaigns.provider_list is configured) the provider's contact list of each campaign.")
def audience_files(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                   provider_list: ProviderListResource, web_store: WebStoreResource) -> dg.MaterializeResult:
    settings = run_settings(warehouse, web_store=web_store)  # the web store: who is suppressed
    provider = provider_list.config(settings)
    with warehouse.connect(read_only=True) as con:
        members = members_by_campaign(con)
    sizes, lists = {}, {}
    suppression = WebStoreSuppression(settings.web_store_path)  # the web store read once for every campaign
    for campaign in load_campaigns():
        audience = members.get(campaign.campaign_id, [])
        path = write_audience_csv(audience, campaign.campaign_id, settings.audiences_dir, campaign.audience_preset)
        sizes[campaign.campaign_id] = len(audience)
        context.log.info(f"{campaign.campaign_id}: {len(audience)} members -> {path}")
        synced = sync_audience(campaign.campaign_id, audience, settings, provider_list_suppression(settings, campaign, suppression),
                               config=provider) if provider else None
        if synced is not None:  # campaigns.provider_list is configured
            lists[campaign.campaign_id] = synced.describe()
            context.log.info(synced.describe())
    return dg.MaterializeResult(metadata={"audience_sizes": dg.MetadataValue.json(sizes),
                                          "provider_lists": dg.MetadataValue.json(lists),
                                          "folder": dg.MetadataValue.path(str(settings.audiences_dir))})


CAMPAIGN_TAG = "warmpool/campaign"  # a run for one campaign (its schedule); without it, every unscheduled one


@dg.asset(deps=[AUDIENCE_KEY, dg.AssetKey("audience_files")], group_name="activation", kinds={"smtp"},
          pool=WAREHOUSE_POOL, retry_policy=NETWORK_RETRY,  # the relay; the send ledger makes a retry send nothing twice
          check_specs=[dg.AssetCheckSpec(
              "reputation_guard", asset="campaign_sends",
              description="Fails while a campaign is paused by the reputation guard (bounce or complaint rate at "
                          "its threshold); `warmpool campaign resume NAME` lifts the pause.")],
          description="Sends each campaign to its audience over SMTP, exactly once per recipient "
                      "(send ledger), with suppression re-checked at send time; drip sequences send each "
                      "member's due step; scheduled campaigns only in their own schedule's runs.")
def campaign_sends(context: dg.AssetExecutionContext, warehouse: WarehouseResource, smtp: SmtpResource,
                   web_store: WebStoreResource):
    settings = run_settings(warehouse, smtp=smtp, web_store=web_store)  # the web store: send-time suppression
    only = context.run.tags.get(CAMPAIGN_TAG)
    reports = {}
    campaigns = load_campaigns()
    suppression = WebStoreSuppression(settings.web_store_path)  # read once for every send of this run
    with warehouse.connect(read_only=True) as con:
        members = members_by_campaign(con)
        id_map = IdentityStore(con).retired_person_ids()
        for campaign in campaigns:
            if (only and campaign.campaign_id != only) or (not only and campaign.schedule):
                continue  # a scheduled campaign goes out in its schedule's runs only
            report = send_now(campaign, members.get(campaign.campaign_id, []), settings, con, person_id_map=id_map,
                              suppressed=suppression)
            context.log.info(report.describe())
            reports[campaign.campaign_id] = report.as_dict()
    yield dg.MaterializeResult(metadata={"reports": dg.MetadataValue.json(reports)})
    yield reputation_check(settings, campaigns)


def reputation_check(settings, campaigns) -> dg.AssetCheckResult:
    """Every campaign's rates, and which are paused by the guard (the check fails while any is)."""
    with open_ledger(settings) as ledger:
        rates = {c.campaign_id: check_reputation(ledger, c.campaign_id, settings).as_dict() for c in campaigns}
        paused = {cid: ledger.paused(cid) for cid in rates}
    tripped = {cid: p["paused_reason"] for cid, p in paused.items() if p and p["paused_by"] == GUARD}
    return dg.AssetCheckResult(check_name="reputation_guard", passed=not tripped,
                               severity=dg.AssetCheckSeverity.ERROR,
                               metadata={"paused_by_guard": dg.MetadataValue.json(tripped),
                                         "rates": dg.MetadataValue.json(rates)})


@dg.multi_asset(
    specs=[dg.AssetSpec([tables.RAW_SENDS, table], deps=[campaign_sends], group_name="activation",
                        kinds={"dlt", "duckdb"}, description="The send ledger's rows, loaded right after the sends.")
           for table in source_tables(tables.RAW_SENDS)],
    name="send_ledger_load", pool=WAREHOUSE_POOL, can_subset=False)
def send_ledger_load(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    counts = run_send_ledger(run_settings(warehouse))
    context.log.info(f"send ledger rows loaded: {counts}")
    for spec in context.assets_def.specs:
        yield dg.MaterializeResult(asset_key=spec.key,
                                   metadata={"rows_loaded": dg.MetadataValue.int(int(counts.get(spec.key.path[-1], 0)))})


# One schedule per campaign that declares `schedule` (cron, UTC): a run of its send and what follows,
# keyed by campaign and tick so a tick never starts two runs. Off until switched on in the UI.
campaign_send_job = dg.define_asset_job(
    "campaign_send", executor_def=dg.in_process_executor,
    selection=dg.AssetSelection.assets(campaign_sends).downstream(),
    description="Send one campaign (its schedule sets the warmpool/campaign tag) and refresh its report.")


def _campaign_schedule(campaign_id: str, cron: str) -> dg.ScheduleDefinition:
    @dg.schedule(name=f"campaign_{campaign_id.replace('-', '_')}", cron_schedule=cron, job=campaign_send_job,
                 execution_timezone="UTC", default_status=dg.DefaultScheduleStatus.STOPPED,
                 description=f"Sends campaign {campaign_id} ({cron}, UTC).")
    def schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        tick = context.scheduled_execution_time.isoformat()
        return dg.RunRequest(run_key=f"{campaign_id}:{tick}", tags={CAMPAIGN_TAG: campaign_id})
    return schedule


defs = dg.Definitions(assets=[audience_files, campaign_sends, send_ledger_load],
                      jobs=[campaign_send_job],
                      schedules=[_campaign_schedule(c.campaign_id, c.schedule) for c in load_campaigns() if c.schedule])
