/**
 * What targeting reads from a bid request, already normalised by the shell that parsed it
 * (country upper case, os lower case). null is "the request did not say": a campaign that
 * restricts that attribute does not match it.
 */
export interface BidAttributes {
  readonly country: string | null;
  readonly deviceType: number | null;
  readonly os: string | null;
  /** `app.bundle` when the request came from an app. */
  readonly app: string | null;
  /** `site.domain` when it came from a site. */
  readonly site: string | null;
  readonly segments: readonly string[];
}

export function bidAttributes(raw: {
  country?: string | null | undefined;
  deviceType?: number | null | undefined;
  os?: string | null | undefined;
  app?: string | null | undefined;
  site?: string | null | undefined;
  segments?: readonly string[] | undefined;
}): BidAttributes {
  return {
    country: raw.country == null ? null : raw.country.toUpperCase(),
    deviceType: raw.deviceType ?? null,
    os: raw.os == null ? null : raw.os.toLowerCase(),
    app: raw.app ?? null,
    site: raw.site ?? null,
    segments: raw.segments ?? [],
  };
}
