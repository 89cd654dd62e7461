import { Redis as IoRedis } from "ioredis";
import { describe, expect, it } from "vitest";
import { startRedis } from "../../local/support";
import { startTestProxy } from "../helpers/proxy";

describe("security: what a leaked proxy token can do", () => {
  it("the refused-command list does not reach into Lua; a Redis ACL user without @dangerous does", async () => {
    const redis = await startRedis();
    const raw = new IoRedis(redis.url);
    const flushFromLua = JSON.stringify(["EVAL", "return redis.call('FLUSHALL')", "0"]);
    try {
      // Documented limitation (docs/security.md): FLUSHALL itself is refused, but a script may call it.
      const open = await startTestProxy(redis.url);
      try {
        await raw.set("sec:sentinel", "1");
        const auth = { Authorization: `Bearer ${open.token}` };
        const direct = await fetch(`${open.url}/`, { method: "POST", headers: auth, body: '["FLUSHALL"]' });
        expect(direct.status).toBe(400);
        expect(await raw.exists("sec:sentinel")).toBe(1);
        const viaLua = await fetch(`${open.url}/`, { method: "POST", headers: auth, body: flushFromLua });
        expect(viaLua.status).toBe(200);
        expect(await raw.exists("sec:sentinel")).toBe(0);
      } finally {
        await open.stop();
      }
      // The defence: the proxy logs in as a Redis user that may not run @dangerous commands, scripts included.
      await raw.call(
        "ACL",
        "SETUSER",
        "proxy",
        "on",
        ">proxy-pass",
        "~*",
        "&*",
        "+@all",
        "-@dangerous",
        "+info",
      );
      const url = new URL(redis.url);
      const guarded = await startTestProxy(`redis://proxy:proxy-pass@${url.host}`);
      try {
        await raw.set("sec:sentinel", "1");
        const auth = { Authorization: `Bearer ${guarded.token}` };
        const viaLua = await fetch(`${guarded.url}/`, { method: "POST", headers: auth, body: flushFromLua });
        expect(viaLua.status).toBe(400);
        expect((await viaLua.json()).error).toMatch(
          /^ERR The user executing the script can't run this command/,
        );
        expect(await raw.exists("sec:sentinel")).toBe(1);
        // The limiter's own commands still work for that user.
        const evalsha = await fetch(`${guarded.url}/`, {
          method: "POST",
          headers: auth,
          body: JSON.stringify(["EVAL", "return redis.call('INCR', KEYS[1])", "1", "sec:{x}:p:burst"]),
        });
        expect(await evalsha.json()).toEqual({ result: 1 });
      } finally {
        await guarded.stop();
      }
    } finally {
      raw.disconnect();
      await redis.stop();
    }
  }, 60_000);
});
