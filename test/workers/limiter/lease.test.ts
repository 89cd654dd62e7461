import { describe, expect, it } from "vitest";
import type { BucketResult } from "../../../lua";
import { LEASE_LIFE_MS, type LeaseEntry, LeaseTable } from "../../../workers/limiter/lease";

// The store's answer a deposit keeps (what leased decisions report); its values play no part in the rules.
const GRANT: BucketResult = {
  allowed: true,
  reason: null,
  deniedBy: [],
  retryAfterMs: 0,
  nowMs: 0,
  clock: "store",
  taken: 0,
  granted: 1,
  limits: [],
};
const STALE_AFTER_MS = 1000;

/** A key seen `perSecond` times in its first whole second, read at 1 s: its demand is perSecond × 1 s. */
function hotKey(leases: LeaseTable, perSecond: number): LeaseEntry {
  for (let i = 0; i < perSecond; i++) leases.touch("api\0key:hot", (i * 1000) / perSecond);
  return leases.touch("api\0key:hot", 1000);
}

/** Spends `n` tokens at `nowMs`, asserting each spend succeeds. */
function spendAll(leases: LeaseTable, entry: LeaseEntry, n: number, nowMs: number): void {
  for (let i = 0; i < n; i++) expect(leases.spend(entry, 1, nowMs)).toBe(true);
}

describe("LeaseTable", () => {
  it("asks for a second of demand, and for nothing while its lease request is in flight", () => {
    const leases = new LeaseTable();
    const entry = hotKey(leases, 100);
    expect(leases.wanted(entry, 1000, STALE_AFTER_MS)).toBe(100);
    entry.requestedAtMs = 1000;
    expect(leases.wanted(entry, 1500, STALE_AFTER_MS)).toBe(0);
    expect(leases.wanted(entry, 2000, STALE_AFTER_MS)).toBe(100);
  });

  it("tops up once two thirds of the target (1.5 × demand) are left, to the target", () => {
    const leases = new LeaseTable();
    const entry = hotKey(leases, 100);
    leases.deposit(entry, 150, GRANT, 1000);
    spendAll(leases, entry, 49, 1100);
    expect(entry.tokens).toBe(101);
    expect(leases.topUp(entry, 1100, STALE_AFTER_MS)).toBe(0);
    spendAll(leases, entry, 1, 1100);
    expect(leases.topUp(entry, 1100, STALE_AFTER_MS)).toBe(50);
    entry.requestedAtMs = 1100;
    spendAll(leases, entry, 1, 1100);
    expect(leases.topUp(entry, 1100, STALE_AFTER_MS)).toBe(0);
  });

  it("keeps a lease that holds no more than its target alive from each request that spends it", () => {
    const leases = new LeaseTable();
    const entry = hotKey(leases, 100);
    leases.deposit(entry, 150, GRANT, 1000);
    spendAll(leases, entry, 1, 1400);
    expect(entry.expiresAtMs).toBe(1400 + LEASE_LIFE_MS);
    spendAll(leases, entry, 1, 1800);
    expect(leases.takeExpired(entry, 1899)).toBe(0);
    expect(leases.takeExpired(entry, 2300)).toBe(148);
    expect(leases.spend(entry, 1, 2300)).toBe(false);
  });

  it("lets a lease holding more than its target (the key cooled down) expire its life (500 ms) after its grant", () => {
    const leases = new LeaseTable();
    const entry = hotKey(leases, 20);
    expect(leases.wanted(entry, 1000, STALE_AFTER_MS)).toBe(20);
    leases.deposit(entry, 100, GRANT, 1000);
    spendAll(leases, entry, 1, 1400);
    expect(entry.expiresAtMs).toBe(1000 + LEASE_LIFE_MS);
    expect(leases.spend(entry, 1, 1000 + LEASE_LIFE_MS)).toBe(false);
    expect(leases.takeExpired(entry, 1000 + LEASE_LIFE_MS)).toBe(99);
  });
});
