import type { Campaign } from '../../core/campaign';
import type { AnalyticsFigures, AnalyticsGranularity, AnalyticsReport } from './analyticsReport';

function figuresJson(f: AnalyticsFigures) {
  return {
    impressions: f.impressions,
    clicks: f.clicks,
    conversions: f.conversions,
    spend_micros: f.spendMicros,
    ctr: f.ctr,
    cpm_micros: f.cpmMicros,
    cpc_micros: f.cpcMicros,
    cpa_micros: f.cpaMicros,
  };
}

/** The /analytics body: totals first (a reader of a long report sees them without scrolling). */
export function analyticsJson(
  campaign: Campaign,
  range: { from: string; to: string; by: AnalyticsGranularity },
  report: AnalyticsReport,
) {
  return {
    totals: figuresJson(report.totals),
    campaign_id: campaign.id,
    from: range.from,
    to: range.to,
    by: range.by,
    time_zone: campaign.timeZone,
    buckets: report.buckets.map((b) => ({ day: b.dayKey, hour: b.hourIndex, ...figuresJson(b) })),
  };
}
