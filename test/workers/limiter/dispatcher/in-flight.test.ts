import { describe, expect, it } from "vitest";
import { InFlightLimit } from "../../../../workers/limiter/dispatcher/in-flight";

describe("InFlightLimit", () => {
  it("grows by one per unhurried answer while decisions wait for a slot, up to the ceiling", () => {
    const limit = new InFlightLimit(2, 5);
    const seen: number[] = [];
    for (let i = 0; i < 6; i++) {
      limit.answered(40 + (i % 3), 1000 + i * 40, true);
      seen.push(limit.value);
    }
    expect(seen).toEqual([3, 4, 5, 5, 5, 5]);
  });

  it("stays put while nothing waits for a slot", () => {
    const limit = new InFlightLimit(2, 16);
    limit.answered(40, 0, false);
    limit.answered(41, 40, false);
    expect(limit.value).toBe(2);
  });

  it("halves, never below the floor, once answers take more than twice the quickest (plus 5 ms)", () => {
    const limit = new InFlightLimit(2, 16);
    for (let i = 0; i < 8; i++) limit.answered(1, i, true);
    expect(limit.value).toBe(10);
    limit.answered(7.5, 10, true);
    expect(limit.value).toBe(5);
    limit.answered(60, 11, true);
    expect(limit.value).toBe(3);
    limit.answered(60, 12, true);
    expect(limit.value).toBe(2);
    limit.answered(60, 13, true);
    expect(limit.value).toBe(2);
  });

  it("relearns the quickest answer after two windows of 10 s (a new path to the store)", () => {
    const limit = new InFlightLimit(2, 16);
    limit.answered(1, 0, true);
    expect(limit.value).toBe(3);
    // The store moved 40 ms away: slow against the remembered 1 ms, so the limit falls to the floor.
    limit.answered(40, 10_000, true);
    expect(limit.value).toBe(2);
    // Two windows later only the new path is remembered: answers of 40 ms are unhurried again.
    limit.answered(40, 20_000, true);
    limit.answered(41, 20_040, true);
    expect(limit.value).toBe(4);
  });

  it("a floor above the ceiling is the ceiling: maxInFlight 1 keeps one call", () => {
    const limit = new InFlightLimit(2, 1);
    limit.answered(40, 0, true);
    expect(limit.value).toBe(1);
  });
});
