import type { CodedError } from '../../core/errors';
import { NotReadyError, UnknownCampaignError } from '../errors';
import type { PacerRuntime } from '../runtime/types';

/**
 * The error for a campaign id this instance does not hold: 404 once its campaigns are loaded,
 * 503 with Retry-After before that (starting, or restarted while the store is down), so a client
 * that treats 4xx as final never drops a win notice for a campaign that exists.
 */
export function missingCampaign(runtime: PacerRuntime, campaignId: string): CodedError {
  return runtime.isReady() ? new UnknownCampaignError(campaignId) : new NotReadyError(campaignId);
}
