/** @module Request identity: who a request counts against, from the client IP or a header such as an API key. */
import type { KeySource } from "../policies";
import { clientNetwork } from "./ip";

export { clientNetwork, formatIPv6, isIPv4, parseIPv6 } from "./ip";

/** The identity a request's buckets are keyed by, or why the request has none. */
export type Identified = { ok: true; identity: string } | { ok: false; error: string };

/** Longest key accepted, from a header or the check API: longer values are almost surely junk, and keys stay small. */
export const MAX_KEY_BYTES = 1024;

/**
 * The one header the client address is read from. Cloudflare sets it, and the local NGINX gateway
 * overwrites it with the peer address; `X-Forwarded-For` and `X-Real-IP` are client-controlled and never read.
 */
export const CLIENT_IP_HEADER = "CF-Connecting-IP";

// A failure that a fallback may replace (the source yielded nothing) versus one the client must fix.
type Attempt = Identified | { ok: false; error: string; final: true };

const encoder = new TextEncoder();

function fromIp(request: Request): Attempt {
  const raw = request.headers.get(CLIENT_IP_HEADER)?.trim();
  if (!raw)
    return {
      ok: false,
      error: `missing ${CLIENT_IP_HEADER} header (set by Cloudflare or the local NGINX gateway)`,
    };
  const network = clientNetwork(raw);
  if (!network) {
    const shown = raw.length > 64 ? `${raw.slice(0, 64)}…` : raw;
    return {
      ok: false,
      error: `invalid ${CLIENT_IP_HEADER} header ${JSON.stringify(shown)} (expected an IPv4 or IPv6 address)`,
    };
  }
  return { ok: true, identity: `ip:${network}` };
}

function fromHeader(request: Request, name: string): Attempt {
  const value = request.headers.get(name)?.trim();
  if (!value) return { ok: false, error: `missing required header ${JSON.stringify(name)}` };
  // UTF-8 takes at most 3 bytes per UTF-16 unit: only a long value needs encoding to be measured.
  if (value.length * 3 > MAX_KEY_BYTES && encoder.encode(value).byteLength > MAX_KEY_BYTES) {
    return { ok: false, error: `header ${name} is too long (max ${MAX_KEY_BYTES} bytes)`, final: true };
  }
  return { ok: true, identity: `key:${value}` };
}

function attempt(request: Request, source: KeySource): Attempt {
  return source.kind === "ip" ? fromIp(request) : fromHeader(request, source.name);
}

function describe(source: KeySource): string {
  return source.kind === "ip" ? "ip" : `header:${source.name}`;
}

/**
 * The identity a request is limited by, prefixed by its kind (`ip:…`, `key:…`) so an API key that happens
 * to equal an address can never share that address's buckets. When `source` yields nothing (header absent
 * or empty, client address missing or unparsable) `fallback` is tried; a value that is present but too
 * long is an error regardless, since the client sent it.
 *
 * @example
 * identify(request, { kind: "ip" }, null); // { ok: true, identity: "ip:203.0.113.7" }
 * identify(request, { kind: "header", name: "x-api-key" }, { kind: "ip" });
 * // { ok: true, identity: "key:abc123" }, or "ip:…" when the request has no x-api-key header
 */
export function identify(request: Request, source: KeySource, fallback: KeySource | null): Identified {
  const primary = attempt(request, source);
  if (primary.ok) return primary;
  if ("final" in primary || !fallback) return { ok: false, error: primary.error };
  const second = attempt(request, fallback);
  if (second.ok) return second;
  return { ok: false, error: `${primary.error}; fallback ${describe(fallback)} failed too: ${second.error}` };
}
