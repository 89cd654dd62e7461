/** @module The isolate's own stalls, from late timers while decisions arrive: jitter and quiet lateness ignored. */
import { describe, expect, it } from "vitest";
import { BEHIND_MS, BUSY_ARRIVALS, StallClock } from "../../../../workers/limiter/dispatcher/stall";

/** A timer set for `dueMs` during which `arrivals` decisions arrived. */
function lateAlarm(stall: StallClock, dueMs: number, arrivals = BUSY_ARRIVALS) {
  const alarm = stall.alarm(dueMs);
  for (let i = 0; i < arrivals; i++) stall.arrived();
  return alarm;
}

describe("StallClock", () => {
  it("ignores timers late by the tolerance or less", () => {
    const stall = new StallClock();
    stall.observe(lateAlarm(stall, 100), 100 + BEHIND_MS);
    expect(stall.totalMs).toBe(0);
  });

  it("counts only the lateness beyond the tolerance, while decisions arrive", () => {
    const stall = new StallClock();
    stall.observe(lateAlarm(stall, 100), 200);
    expect(stall.totalMs).toBe(100 - BEHIND_MS);
  });

  it("does not count a late timer in a quiet isolate (a descheduled process, not a flood)", () => {
    const stall = new StallClock();
    stall.observe(lateAlarm(stall, 100, BUSY_ARRIVALS - 1), 400);
    expect(stall.totalMs).toBe(0);
  });

  it("counts a stall seen by many late timers once", () => {
    const stall = new StallClock();
    // Three waiters due at 100, 120 and 150 all ran at 300: the isolate ran nothing from 105 to 300.
    const alarms = [100, 120, 150].map((due) => stall.alarm(due));
    for (let i = 0; i < BUSY_ARRIVALS; i++) stall.arrived();
    for (const alarm of alarms) stall.observe(alarm, 300);
    expect(stall.totalMs).toBe(300 - 100 - BEHIND_MS);
    // A later, separate stall adds its own span.
    stall.observe(lateAlarm(stall, 400), 450);
    expect(stall.totalMs).toBe(195 + 45);
  });

  it("measures a span net of the stalls inside it", () => {
    const stall = new StallClock();
    const mark = stall.mark(1000);
    stall.observe(lateAlarm(stall, 1010), 1310);
    expect(stall.since(mark, 1400)).toBe(400 - (300 - BEHIND_MS));
    expect(stall.since(stall.mark(1400), 1450)).toBe(50);
  });

  it("counts a stall still waited out when the answer is read first, and forgets waits an answer ended early", () => {
    const stall = new StallClock();
    // A wait ended by an answer before its timer was due leaves nothing behind.
    stall.settle(lateAlarm(stall, 100), 90);
    stall.catchUp(0, 500);
    expect(stall.totalMs).toBe(0);
    // The answer is read at 300, before the callback of the timer due at 200 runs.
    const overdue = lateAlarm(stall, 200);
    stall.catchUp(150, 300);
    expect(stall.totalMs).toBe(100 - BEHIND_MS);
    // Its callback then runs at 310: only the 10 ms after the answer are added.
    stall.settle(overdue, 310);
    expect(stall.totalMs).toBe(105);
  });

  it("drops waits that fell due before the span measured: their requests went away", () => {
    const stall = new StallClock();
    lateAlarm(stall, 100);
    stall.catchUp(200, 900);
    expect(stall.totalMs).toBe(0);
    stall.catchUp(0, 900);
    expect(stall.totalMs).toBe(0);
  });
});
