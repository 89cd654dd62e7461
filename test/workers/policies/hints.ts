/** @module The exact wording the policies errors must keep: written once for the suites that check it. */

export const REFILL_HINT =
  'is not a refill rate (expected "<tokens>/<period>", period ms|s|m|h|d, e.g. "5/s" or "100/10m")';
