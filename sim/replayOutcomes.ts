// Types only: what a production replay (stream kind pacer-log) says about its market outcomes,
// shared by the source that counts them and the summary that reports them.

/** Where the market outcomes of a replay came from: the report and summary say it. */
export interface ReplayOutcomes {
  readonly files: number;
  readonly decisionRows: number;
  /** Decision rows replayed: inside the scenario's days, of a campaign the scenario lists. */
  readonly replayed: number;
  readonly outsideWindow: number;
  readonly unknownCampaign: number;
  /** Replayed requests whose market price is the recorded win's (the server's bid won). */
  readonly recordedWins: number;
  /** Allowed and not won: a price drawn from the fitted model above the recorded bid. */
  readonly modelAboveBid: number;
  /** Denied by the server, so the market was never asked: a price drawn from the fitted model. */
  readonly modelUnconditional: number;
  /** Win notices without a decision row to join (no request id, or the decision not sampled). */
  readonly unmatchedWins: number;
  /** Largest sampling weight of a row (1: everything recorded). Each row replays as one request. */
  readonly sampleWeight: number;
  readonly priceModel: { readonly medianCpmMicros: number; readonly sigma: number };
}
