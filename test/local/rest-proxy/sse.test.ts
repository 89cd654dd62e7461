/** @module SSE `/subscribe` and `/psubscribe`: the real @upstash/redis subscriber, raw frames, limits, and clean endings. */
import { Redis } from "@upstash/redis";
import { Redis as IORedis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRedis, waitUntil } from "../../../local/support";
import { startTestProxy } from "../../helpers/proxy";
import { proxySuite } from "./suite";

const suite = proxySuite(["--max-streams", "3"]);
let direct: IORedis;
let client: Redis;

beforeAll(() => {
  direct = new IORedis(suite.redis.url);
  client = new Redis({ url: suite.proxy.url, token: suite.proxy.token });
});

afterAll(() => direct?.disconnect());

/** Redis connections in subscriber mode, from CLIENT LIST. */
async function subscriberConnections(): Promise<number> {
  const list = String(await direct.client("LIST"));
  return list.split("\n").filter((line) => /\b(sub|psub)=[1-9]/.test(line)).length;
}

function waitForSubscribers(count: number): Promise<void> {
  return waitUntil(
    `${count} subscriber connection(s)`,
    async () => (await subscriberConnections()) === count,
  );
}

/** An SSE response read as text as it arrives. */
async function openStream(path: string, headers: Record<string, string> = {}) {
  const controller = new AbortController();
  const res = await fetch(`${suite.proxy.url}${path}`, {
    headers: { authorization: `Bearer ${suite.proxy.token}`, accept: "text/event-stream", ...headers },
    signal: controller.signal,
  });
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let text = "";
  let ended = false;
  async function until(predicate: (text: string) => boolean): Promise<string> {
    const deadline = Date.now() + 5000;
    while (!predicate(text) && !ended) {
      if (Date.now() > deadline) throw new Error(`stream never matched; got ${JSON.stringify(text)}`);
      const chunk = await Promise.race([
        reader.read(),
        new Promise<null>((resolve) => setTimeout(() => resolve(null), 250)),
      ]);
      if (chunk === null) continue;
      if (chunk.done) ended = true;
      else text += decoder.decode(chunk.value, { stream: true });
    }
    return text;
  }
  return { res, until, ended: () => ended, close: () => controller.abort() };
}

describe("@upstash/redis subscribe and psubscribe", () => {
  it("receives published messages in order, then unsubscribes and leaves no Redis connection", async () => {
    const counts: number[] = [];
    const received: unknown[] = [];
    const onChannel: unknown[] = [];
    const subscriber = client.subscribe(["news"]);
    subscriber.on("subscribe", (count) => counts.push(count));
    subscriber.on("message", (data) => received.push(data));
    subscriber.on("message:news", (data) => onChannel.push(data.message));
    await waitForSubscribers(1);
    const messages = ["really?", { user: "u1", n: 1 }, { user: "u1", n: 2 }, [1, "two"]];
    for (const message of messages) expect(await client.publish("news", message)).toBe(1);
    await waitUntil("four messages", async () => received.length === 4);
    expect(counts).toEqual([1]);
    expect(received).toEqual(messages.map((message) => ({ channel: "news", message })));
    expect(onChannel).toEqual(messages);
    await subscriber.unsubscribe();
    await waitForSubscribers(0);
    expect(await client.publish("news", "nobody")).toBe(0);
  });

  it("gives each of two subscribers its own count and the same messages", async () => {
    const first = client.subscribe(["shared"]);
    const second = client.subscribe(["shared"]);
    const counts: number[] = [];
    const got: unknown[][] = [[], []];
    for (const [i, subscriber] of [first, second].entries()) {
      subscriber.on("subscribe", (count) => counts.push(count));
      subscriber.on("message", (data) => got[i]?.push(data.message));
    }
    await waitForSubscribers(2);
    expect(await client.publish("shared", { hello: "both" })).toBe(2);
    await waitUntil("both got it", async () => got.every((g) => g.length === 1));
    expect(counts).toEqual([1, 1]);
    expect(got).toEqual([[{ hello: "both" }], [{ hello: "both" }]]);
    await Promise.all([first.unsubscribe(), second.unsubscribe()]);
    await waitForSubscribers(0);
  });

  it("unsubscribes from one channel and keeps the other", async () => {
    const subscriber = client.subscribe(["one", "two"]);
    const got: string[] = [];
    subscriber.on("message", (data) => got.push(`${data.channel}:${String(data.message)}`));
    await waitForSubscribers(2);
    await subscriber.unsubscribe(["one"]);
    await waitForSubscribers(1);
    expect(await client.publish("one", "lost")).toBe(0);
    expect(await client.publish("two", "kept")).toBe(1);
    await waitUntil("one message", async () => got.length === 1);
    expect(got).toEqual(["two:kept"]);
    await subscriber.unsubscribe();
    await waitForSubscribers(0);
  });

  it("psubscribe delivers pmessage with the pattern and the channel", async () => {
    const got: unknown[] = [];
    const counts: number[] = [];
    const subscriber = client.psubscribe(["user:*"]);
    subscriber.on("psubscribe", (count) => counts.push(count));
    subscriber.on("pmessage", (data) => got.push(data));
    await waitForSubscribers(1);
    expect(await client.publish("user:42", { login: true })).toBe(1);
    expect(await client.publish("other", "no")).toBe(0);
    await waitUntil("one pmessage", async () => got.length === 1);
    expect(counts).toEqual([1]);
    expect(got).toEqual([{ pattern: "user:*", channel: "user:42", message: { login: true } }]);
    await subscriber.unsubscribe();
    await waitForSubscribers(0);
  });
});

describe("raw SSE", () => {
  it("frames subscribe counts and messages as `data:` lines; a line break starts another data line", async () => {
    const stream = await openStream("/subscribe/a/b%2Fc");
    expect(stream.res.status).toBe(200);
    expect(stream.res.headers.get("content-type")).toBe("text/event-stream");
    expect(stream.res.headers.get("cache-control")).toBe("no-cache");
    expect(stream.res.headers.get("upstash-sync-token")).toMatch(/^\d+$/);
    expect(await stream.until((t) => t.includes("b/c,2"))).toBe(
      "data: subscribe,a,1\n\ndata: subscribe,b/c,2\n\n",
    );
    await direct.publish("b/c", "line 1\nline 2\r\nü");
    expect(await stream.until((t) => t.includes("ü"))).toBe(
      "data: subscribe,a,1\n\ndata: subscribe,b/c,2\n\ndata: message,b/c,line 1\ndata: line 2\ndata: ü\n\n",
    );
    stream.close();
    await waitForSubscribers(0);
  });

  it("takes GET with ?_token= (what an EventSource can send)", async () => {
    const stream = await openStream(`/psubscribe/t*?_token=${suite.proxy.token}`, { authorization: "" });
    expect(await stream.until((t) => t.length > 0)).toBe("data: psubscribe,t*,1\n\n");
    stream.close();
    await waitForSubscribers(0);
  });

  it("answers JSON errors: no channel 400, PUT 405, no token 401, over --max-streams 429", async () => {
    const noChannel = await fetch(`${suite.proxy.url}/subscribe`, {
      headers: { authorization: `Bearer ${suite.proxy.token}` },
    });
    expect(noChannel.status).toBe(400);
    expect(await noChannel.json()).toEqual({
      error: "ERR proxy: name a channel or pattern: /subscribe/<name>",
    });
    const put = await fetch(`${suite.proxy.url}/subscribe/x`, {
      method: "PUT",
      headers: { authorization: `Bearer ${suite.proxy.token}` },
    });
    expect(put.status).toBe(405);
    expect(put.headers.get("allow")).toBe("GET, POST");
    expect(await put.json()).toEqual({
      error: "ERR proxy: method PUT not allowed on /subscribe, use GET or POST",
    });
    const noToken = await fetch(`${suite.proxy.url}/subscribe/x`);
    expect(noToken.status).toBe(401);
    expect(await noToken.json()).toEqual({ error: "Unauthorized" });
    const open = await Promise.all([1, 2, 3].map((n) => openStream(`/subscribe/full-${n}`)));
    await waitForSubscribers(3);
    const over = await fetch(`${suite.proxy.url}/subscribe/x`, {
      headers: { authorization: `Bearer ${suite.proxy.token}` },
    });
    expect(over.status).toBe(429);
    expect(await over.json()).toEqual({
      error: "ERR proxy: too many open subscriptions (at most 3, see --max-streams)",
    });
    for (const stream of open) stream.close();
    await waitForSubscribers(0);
    const again = await openStream("/subscribe/x");
    expect(again.res.status).toBe(200);
    again.close();
    await waitForSubscribers(0);
  });

  it("ends the stream when Redis drops the subscriber connection, and does not reconnect it", async () => {
    const stream = await openStream("/subscribe/dropped");
    await waitForSubscribers(1);
    await direct.client("KILL", "TYPE", "pubsub");
    expect(await stream.until(() => false)).toBe(
      "data: subscribe,dropped,1\n\n: ERR proxy: the Redis connection closed\n\n",
    );
    expect(stream.ended()).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await subscriberConnections()).toBe(0);
  });
});

describe("Redis down", () => {
  it("answers a subscription with 503 JSON and no stream", async () => {
    const gone = await startRedis();
    const own = await startTestProxy(gone.url);
    try {
      await gone.stop();
      const res = await fetch(`${own.url}/subscribe/x`, {
        headers: { authorization: `Bearer ${own.token}` },
      });
      expect(res.status).toBe(503);
      expect(res.headers.get("content-type")).toBe("application/json");
      expect(((await res.json()) as { error: string }).error).toMatch(/^ERR proxy: Redis is unavailable \(/);
    } finally {
      await own.stop();
    }
  });
});

describe("proxy shutdown", () => {
  it("ends open streams on SIGTERM and exits 0 promptly", async () => {
    const own = await startTestProxy(suite.redis.url);
    const res = await fetch(`${own.url}/subscribe/bye`, {
      headers: { authorization: `Bearer ${own.token}` },
    });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    await waitForSubscribers(1);
    const started = Date.now();
    own.process.child.kill("SIGTERM");
    let text = "";
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      text += new TextDecoder().decode(chunk.value);
    }
    expect(text).toBe("data: subscribe,bye,1\n\n: ERR proxy: the proxy is shutting down\n\n");
    expect(await own.process.exited).toBe(0);
    expect(Date.now() - started).toBeLessThan(5000);
    await waitForSubscribers(0);
  });
});
