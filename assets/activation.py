"""Activation: audience files for marketers and the campaign send over SMTP."""
import dagster as dg

from assets.dbt_project import source_tables
from assets.resources import WAREHOUSE_POOL, SmtpResource, WarehouseResource, WebStoreResource, run_settings
from pipelines.send_ledger import run_send_ledger
from warmpool import tables
from warmpool.campaigns.audience import members_by_campaign, retired_person_ids, write_audience_csv
from warmpool.campaigns.config import load_campaigns
from warmpool.campaigns.sender import send_campaign

AUDIENCE_KEY = dg.AssetKey(tables.AUDIENCE_MEMBERS.split("."))


@dg.asset(deps=[AUDIENCE_KEY], group_name="activation", kinds={"csv"}, pool=WAREHOUSE_POOL,
          description="One CSV per campaign in email-provider import columns, under data/audiences/.")
def audience_files(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    settings = run_settings(warehouse)
    with warehouse.connect(read_only=True) as con:
        members = members_by_campaign(con)
    sizes = {}
    for campaign in load_campaigns():
        audience = members.get(campaign.campaign_id, [])
        path = write_audience_csv(audience, campaign.campaign_id, settings.audiences_dir, campaign.audience_preset)
        sizes[campaign.campaign_id] = len(audience)
        context.log.info(f"{campaign.campaign_id}: {len(audience)} members -> {path}")
    return dg.MaterializeResult(metadata={"audience_sizes": dg.MetadataValue.json(sizes),
                                          "folder": dg.MetadataValue.path(str(settings.audiences_dir))})


@dg.asset(deps=[AUDIENCE_KEY, dg.AssetKey("audience_files")], group_name="activation", kinds={"smtp"},
          pool=WAREHOUSE_POOL,
          description="Sends each campaign to its audience over SMTP, exactly once per recipient "
                      "(send ledger), with suppression re-checked at send time.")
def campaign_sends(context: dg.AssetExecutionContext, warehouse: WarehouseResource, smtp: SmtpResource,
                   web_store: WebStoreResource) -> dg.MaterializeResult:
    settings = run_settings(warehouse, smtp=smtp, web_store=web_store)  # the web store: send-time suppression
    with warehouse.connect(read_only=True) as con:
        members = members_by_campaign(con)
        id_map = retired_person_ids(con)
    reports = {}
    for campaign in load_campaigns():
        report = send_campaign(campaign, members.get(campaign.campaign_id, []), settings, person_id_map=id_map)
        context.log.info(f"{campaign.campaign_id}: {report.describe()}")
        reports[campaign.campaign_id] = report.as_dict()
    return dg.MaterializeResult(metadata={"reports": dg.MetadataValue.json(reports)})


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


defs = dg.Definitions(assets=[audience_files, campaign_sends, send_ledger_load])
