/** @module The shape of one benchmark run's figures: what the scenarios return, the goals judge and the report writes. */
import type { MicroResult } from "./micro";
import type { AccuracyResult } from "./scenarios/accuracy";
import type { ColdStartResult } from "./scenarios/cold-start";
import type { CommandsResult } from "./scenarios/commands";
import type { FarStoreResult } from "./scenarios/far-store";
import type { KeysResult } from "./scenarios/keys";
import type { MemoryResult } from "./scenarios/memory";
import type { OverheadResult } from "./scenarios/overhead";
import type { OverloadResult } from "./scenarios/overload";
import type { PeerResult } from "./scenarios/peer";
import type { ProxyResult } from "./scenarios/proxy";
import type { ScalingResult } from "./scenarios/scaling";
import type { SingleResult } from "./scenarios/single";
import type { MachineFacts } from "./support";

/** Everything one run measured. */
export interface BenchResults {
  quick: boolean;
  facts: MachineFacts;
  settings: { seconds: number; rounds: number; connections: number };
  durationSec: number;
  overhead: OverheadResult;
  proxy: ProxyResult;
  peer: PeerResult;
  commands: CommandsResult;
  accuracy: AccuracyResult;
  memory: MemoryResult;
  scaling: ScalingResult;
  single: SingleResult;
  overload: OverloadResult;
  keys: KeysResult;
  farStore: FarStoreResult;
  coldStart: ColdStartResult;
  /** Absent in results written before scenario 13 existed. */
  micro?: MicroResult;
}
