/** @module The isolate's own stalls, from late timers: jitter ignored, overlapping lateness counted once. */
import { describe, expect, it } from "vitest";
import { BEHIND_MS, StallClock } from "../../../../workers/limiter/dispatcher/stall";

describe("StallClock", () => {
  it("ignores timers late by the tolerance or less", () => {
    const stall = new StallClock();
    stall.observe(100, 100 + BEHIND_MS);
    expect(stall.totalMs).toBe(0);
  });

  it("counts only the lateness beyond the tolerance", () => {
    const stall = new StallClock();
    stall.observe(100, 200);
    expect(stall.totalMs).toBe(100 - BEHIND_MS);
  });

  it("counts a stall seen by many late timers once", () => {
    const stall = new StallClock();
    // Three waiters due at 100, 120 and 150 all ran at 300: the isolate ran nothing from 105 to 300.
    stall.observe(100, 300);
    stall.observe(120, 300);
    stall.observe(150, 300);
    expect(stall.totalMs).toBe(300 - 100 - BEHIND_MS);
    // A later, separate stall adds its own span.
    stall.observe(400, 450);
    expect(stall.totalMs).toBe(195 + 45);
  });

  it("measures a span net of the stalls inside it", () => {
    const stall = new StallClock();
    const mark = stall.mark(1000);
    stall.observe(1010, 1310);
    expect(stall.since(mark, 1400)).toBe(400 - (300 - BEHIND_MS));
    expect(stall.since(stall.mark(1400), 1450)).toBe(50);
  });
});
