"""Activation assets: audience files for marketers and the campaign send over SMTP."""
import dagster as dg

from assets.ingestion import WAREHOUSE_POOL
from warmpool import tables
from warmpool.config import get_settings

AUDIENCE_KEY = dg.AssetKey(tables.AUDIENCE_MEMBERS.split("."))


def _audience_by_campaign() -> dict[str, list[dict]]:
    from warmpool.warehouse import warehouse

    with warehouse(read_only=True) as con:
        cur = con.execute(f"select * from {tables.AUDIENCE_MEMBERS} order by campaign_id, person_id")
        cols = [d[0] for d in cur.description]
        rows = [dict(zip(cols, r)) for r in cur.fetchall()]
    grouped: dict[str, list[dict]] = {}
    for row in rows:
        grouped.setdefault(row["campaign_id"], []).append(row)
    return grouped


def _person_id_map() -> list[tuple[str, str]] | None:
    """Retired person id -> current person id, so the send ledger follows merges."""
    from warmpool.warehouse import table_exists, warehouse

    with warehouse(read_only=True) as con:
        if not table_exists(con, tables.PERSON_ID_MAP):
            return None
        return con.execute(f"select any_person_id, person_id from {tables.PERSON_ID_MAP} "
                           f"where any_person_id <> person_id").fetchall()


@dg.asset(deps=[AUDIENCE_KEY], group_name="activation", kinds={"csv"}, pool=WAREHOUSE_POOL,
          description="One CSV per campaign in email-provider import columns, under data/audiences/.")
def audience_files(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    from warmpool.campaigns.audience import write_audience_csv
    from warmpool.campaigns.config import load_campaigns

    settings = get_settings()
    members = _audience_by_campaign()
    sizes = {}
    for campaign in load_campaigns():
        path = write_audience_csv(members.get(campaign.campaign_id, []), campaign.campaign_id, settings.audiences_dir)
        sizes[campaign.campaign_id] = len(members.get(campaign.campaign_id, []))
        context.log.info(f"{campaign.campaign_id}: {sizes[campaign.campaign_id]} members -> {path}")
    return dg.MaterializeResult(metadata={"audience_sizes": dg.MetadataValue.json(sizes),
                                          "folder": dg.MetadataValue.path(str(settings.audiences_dir))})


@dg.asset(deps=[AUDIENCE_KEY, dg.AssetKey("audience_files")], group_name="activation", kinds={"smtp"},
          pool=WAREHOUSE_POOL,
          description="Sends each campaign to its audience over SMTP, exactly once per recipient "
                      "(send ledger), with suppression re-checked at send time.")
def campaign_sends(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    from warmpool.campaigns.config import load_campaigns
    from warmpool.campaigns.sender import send_campaign

    members = _audience_by_campaign()
    id_map = _person_id_map()
    reports = {}
    for campaign in load_campaigns():
        report = send_campaign(campaign, members.get(campaign.campaign_id, []), get_settings(),
                               person_id_map=id_map)
        context.log.info(f"{campaign.campaign_id}: {report.describe()}")
        reports[campaign.campaign_id] = report.describe()
    return dg.MaterializeResult(metadata={"reports": dg.MetadataValue.json(reports)})
