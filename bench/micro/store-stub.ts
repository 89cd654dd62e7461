/** @module The microbenchmark's store: a worker that answers the token-bucket EVALSHA as the REST API would, without Redis. */

// A bucket whose identity starts with this is denied (for the denied-cache configuration); every other
// bucket grants what it is asked for, lease included, so leases stay full and nothing else is denied.
const DENIED_TAG = "{denied";
/** How long a denial lasts: longer than any benchmark run, so the denied cache holds it throughout. */
const DENIED_FOR_MS = 3_600_000;

/**
 * The script's reply for one EVALSHA command (`["evalsha", sha, nKeys, ...keys, ...args]`), in the
 * layout of lua/token_bucket.lua: `[allowed, nowMs, per limit: status, remaining, retryMs, resetMs, taken, granted, clock]` (clock 0: the
 * store's).
 *
 * @example
 * bucketReply(["evalsha", "ab", "1", "erl:{k}:api:second", "1", "10", "5", "1000"], 0);
 * // [1, 0, 0, 9, 0, 200, 1, 1, 0]
 */
export function bucketReply(command: readonly string[], nowMs: number): number[] {
  const nKeys = Number(command[2]);
  const keys = command.slice(3, 3 + nKeys);
  const args = command.slice(3 + nKeys).map(Number);
  const cost = args[0] ?? 1;
  const plain = 1 + 3 * nKeys;
  const want = args.length >= plain + 2 ? (args[plain] ?? cost) : cost;
  const count = args.length >= plain + 3 ? (args[plain + 2] ?? 1) : 1;
  const denied = keys.some((key) => key.includes(DENIED_TAG));
  const taken = denied ? 0 : Math.max(want, cost * count);
  const reply = [denied ? 0 : 1, nowMs];
  for (let i = 0; i < nKeys; i++) {
    const capacity = args[1 + 3 * i] ?? 0;
    if (denied) reply.push(i === 0 ? 1 : 0, 0, i === 0 ? DENIED_FOR_MS : 0, DENIED_FOR_MS);
    else reply.push(0, Math.max(0, capacity - taken), 0, 1000);
  }
  reply.push(taken, denied ? 0 : count, 0);
  return reply;
}

function answer(command: unknown, nowMs: number): string {
  if (!Array.isArray(command) || String(command[0]).toLowerCase() !== "evalsha")
    return JSON.stringify({ error: `ERR stub: only EVALSHA, got ${JSON.stringify(command)}` });
  return `{"result":${JSON.stringify(bucketReply(command.map(String), nowMs))}}`;
}

/** `POST /` (one command) and `POST /pipeline` (a list), as the Upstash REST API answers them. */
export default {
  async fetch(request: Request): Promise<Response> {
    const body = (await request.json()) as unknown;
    const now = Date.now();
    const path = new URL(request.url).pathname;
    const text =
      path === "/pipeline" && Array.isArray(body)
        ? `[${body.map((command) => answer(command, now)).join(",")}]`
        : answer(body, now);
    return new Response(text, { headers: { "Content-Type": "application/json" } });
  },
};
