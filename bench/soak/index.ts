/** @module `npm run soak -- --minutes 30`: the local stack under steady mixed load; memory of every process at start and end. */
import { execFileSync } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { type Stack, startStack } from "../../local/stack";
import { failUsage, orFail, readFlags, wholeNumber } from "../../local/support";

const HELP = `Usage: npm run soak -- [--minutes 30] [--clients 16] [--no-build]

Starts the local stack (Redis, REST proxy, 3 workerd, NGINX) and drives steady load for --minutes: 100
rotating client keys on a small bucket (many get denied and land in the denied cache) and a large one.
Samples the resident memory of every process once a minute and prints start vs end; writes
bench/results/soak-<date>.json. Exits 1 if any part crashed or a request got no answer.`;

const POLICIES = {
  policies: {
    small: { limits: [{ name: "burst", capacity: 5, refill: "2/s" }], timeoutMs: 1000 },
    large: {
      limits: [
        { name: "second", capacity: 100, refill: "50/s" },
        { name: "day", capacity: 1_000_000, refill: "1000000/d" },
      ],
      timeoutMs: 1000,
    },
  },
  routes: [
    { path: "/small/*", policy: "small", key: "header:x-client" },
    { path: "/large/*", policy: "large", key: "header:x-client" },
  ],
};

function rssKiB(pid: number): number {
  try {
    return Number(
      /VmRSS:\s+(\d+)/.exec(execFileSync("cat", [`/proc/${pid}/status`], { encoding: "utf8" }))?.[1] ?? 0,
    );
  } catch {
    return 0;
  }
}

/** Every process of the stack: the supervised parts and the workerd under each edge host. */
function processes(stack: Stack): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of stack.status()) {
    out[part.name] = part.pid;
    if (part.name.startsWith("edge-")) {
      const children = execFileSync("sh", ["-c", `pgrep -P ${part.pid} workerd || true`], {
        encoding: "utf8",
      });
      const workerd = Number(children.trim().split("\n")[0]);
      if (workerd) out[`${part.name}/workerd`] = workerd;
    }
  }
  return out;
}

function sample(stack: Stack): Record<string, number> {
  return Object.fromEntries(Object.entries(processes(stack)).map(([name, pid]) => [name, rssKiB(pid)]));
}

async function main(): Promise<number> {
  const values = readFlags({
    name: "soak",
    help: HELP,
    options: {
      minutes: { type: "string", default: "30" },
      clients: { type: "string", default: "16" },
      "no-build": { type: "boolean" },
    },
  });
  const minutes = Number(values.minutes);
  if (!(minutes > 0)) failUsage("soak", `--minutes: expected a number > 0, got "${values.minutes}"`);
  const clients = orFail(
    "soak",
    wholeNumber("--clients", values.clients, { min: 1, max: 10_000, fallback: 16 }),
  );
  if (!values["no-build"]) execFileSync("npm", ["run", "build", "--silent"], { stdio: "inherit" });
  const stack = await startStack({
    port: 0,
    proxyPort: 0,
    instances: 3,
    policies: JSON.stringify(POLICIES),
    log: console.log,
  });
  const counts = { sent: 0, ok: 0, limited: 0, other: 0, failed: 0 };
  const endAt = Date.now() + minutes * 60_000;
  let running = true;
  async function client(id: number): Promise<void> {
    while (running && Date.now() < endAt) {
      const n = counts.sent++;
      const path = n % 3 === 0 ? "/large/x" : "/small/x";
      try {
        const res = await fetch(`${stack.url}${path}`, {
          headers: { "x-client": `soak-${(n * 7919 + id) % 100}` },
        });
        await res.arrayBuffer();
        if (res.status === 200) counts.ok++;
        else if (res.status === 429) counts.limited++;
        else counts.other++;
      } catch {
        counts.failed++;
      }
    }
  }
  console.log(`soak: ${minutes} min, ${clients} clients against ${stack.url}`);
  const loops = Array.from({ length: clients }, (_, i) => client(i));
  // Baseline after warm-up: V8 heaps and JIT code grow during the first minute whatever happens later.
  await new Promise((r) => setTimeout(r, Math.min(60_000, minutes * 60_000 * 0.2)));
  const start = sample(stack);
  const timeline: { atMin: number; rssKiB: Record<string, number> }[] = [{ atMin: 0, rssKiB: start }];
  const timer = setInterval(() => {
    const at = timeline.length;
    timeline.push({ atMin: at, rssKiB: sample(stack) });
    console.log(
      `soak: minute ${at}: ${counts.sent} requests (${counts.ok} ok, ${counts.limited} 429, ${counts.failed} failed)`,
    );
  }, 60_000);
  await Promise.all(loops);
  running = false;
  clearInterval(timer);
  const end = sample(stack);
  const restarts = stack.status().reduce((sum, p) => sum + p.restarts, 0);
  await stack.stop();

  // V8 grows its heaps for the first minutes under load, then holds; a leak keeps climbing. So the table
  // also shows a mid-run sample: flat means the second half adds (almost) nothing.
  const mid = timeline[Math.floor(timeline.length / 2)]?.rssKiB ?? start;
  const mib = (kib: number | undefined) => `${((kib ?? 0) / 1024).toFixed(1)} MiB`.padStart(10);
  console.log("\nprocess                 RSS start     mid-run       end   end vs mid-run");
  for (const name of Object.keys(start)) {
    const m = mid[name] ?? 0;
    const b = end[name] ?? 0;
    const change = m ? `${(((b - m) / m) * 100).toFixed(1)} %` : "n/a";
    console.log(`${name.padEnd(22)} ${mib(start[name])}  ${mib(m)}  ${mib(b)}   ${change}`);
  }
  console.log(
    `\n${counts.sent} requests: ${counts.ok} allowed, ${counts.limited} limited, ${counts.other} other, ${counts.failed} failed; ${restarts} restarts`,
  );
  await mkdir("bench/results", { recursive: true });
  const file = `bench/results/soak-${new Date().toISOString().replace(/[:.]/g, "-")}.json`;
  await writeFile(
    file,
    JSON.stringify(
      {
        minutes,
        clients,
        counts,
        restarts,
        start,
        end,
        timeline,
        load: (await readFile("/proc/loadavg", "utf8")).trim(),
      },
      null,
      2,
    ),
  );
  console.log(`wrote ${file}`);
  return restarts > 0 || counts.failed > 0 || counts.other > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`soak: ${(error as Error).stack ?? error}`);
    process.exit(1);
  },
);
