import { describe, expect, it } from "vitest";
import { clientNetwork, formatIPv6, identify, isIPv4, parseIPv6 } from "../../../workers/identity";
import type { KeySource } from "../../../workers/policies";

const IP: KeySource = { kind: "ip" };
const API_KEY: KeySource = { kind: "header", name: "x-api-key" };
const MISSING_IP = "missing CF-Connecting-IP header (set by Cloudflare or the local NGINX gateway)";

function request(headers: Record<string, string>): Request {
  return new Request("https://edge.example/api/x", { headers });
}

describe("identify: ip", () => {
  it("keys IPv4 addresses as they are", () => {
    expect(identify(request({ "CF-Connecting-IP": "203.0.113.7" }), IP, null)).toEqual({
      ok: true,
      identity: "ip:203.0.113.7",
    });
    expect(identify(request({ "cf-connecting-ip": " 0.0.0.0 " }), IP, null)).toEqual({
      ok: true,
      identity: "ip:0.0.0.0",
    });
  });

  it("keys every spelling of an IPv6 address in one /64 by the same identity", () => {
    const spellings = [
      "2001:db8:1:2::1",
      "2001:DB8:1:2::1",
      "2001:0db8:0001:0002:0000:0000:0000:0001",
      "2001:db8:1:2:ffff:ffff:ffff:ffff",
      "2001:db8:1:2::",
      "2001:db8:1:2:0:0:0:0",
      "2001:db8:1:2::192.0.2.1",
    ];
    for (const ip of spellings) {
      expect(identify(request({ "CF-Connecting-IP": ip }), IP, null), ip).toEqual({
        ok: true,
        identity: "ip:2001:db8:1:2::/64",
      });
    }
    expect(identify(request({ "CF-Connecting-IP": "2001:db8:1:3::1" }), IP, null)).toEqual({
      ok: true,
      identity: "ip:2001:db8:1:3::/64",
    });
  });

  it("writes the /64 in RFC 5952 form", () => {
    expect(clientNetwork("2001:db8::1")).toBe("2001:db8::/64");
    expect(clientNetwork("2001:0:0:1::1")).toBe("2001:0:0:1::/64");
    expect(clientNetwork("::1")).toBe("::/64");
    expect(clientNetwork("fe80::1:2:3:4")).toBe("fe80::/64");
    expect(clientNetwork("2001:db8:0:abcd:1::")).toBe("2001:db8:0:abcd::/64");
  });

  it("keys IPv4-mapped IPv6 addresses by their IPv4 address", () => {
    for (const ip of [
      "::ffff:203.0.113.7",
      "::FFFF:203.0.113.7",
      "::ffff:cb00:7107",
      "0:0:0:0:0:ffff:cb00:7107",
    ]) {
      expect(identify(request({ "CF-Connecting-IP": ip }), IP, null), ip).toEqual({
        ok: true,
        identity: "ip:203.0.113.7",
      });
    }
  });

  it("never reads X-Forwarded-For or X-Real-IP", () => {
    const spoofed = {
      "X-Forwarded-For": "198.51.100.1",
      "X-Real-IP": "198.51.100.2",
      Forwarded: "for=198.51.100.3",
    };
    expect(identify(request({ ...spoofed, "CF-Connecting-IP": "203.0.113.7" }), IP, null)).toEqual({
      ok: true,
      identity: "ip:203.0.113.7",
    });
    expect(identify(request(spoofed), IP, null)).toEqual({ ok: false, error: MISSING_IP });
  });

  it("rejects a missing, empty or invalid client address", () => {
    expect(identify(request({}), IP, null)).toEqual({ ok: false, error: MISSING_IP });
    expect(identify(request({ "CF-Connecting-IP": "  " }), IP, null)).toEqual({
      ok: false,
      error: MISSING_IP,
    });
    for (const bad of [
      "203.0.113",
      "203.0.113.256",
      "203.0.113.07",
      "1.2.3.4.5",
      "2001:db8::1::2",
      "2001:db8:1",
      "fe80::1%eth0",
      "203.0.113.7, 10.0.0.1",
      "[::1]",
      "localhost",
    ]) {
      expect(identify(request({ "CF-Connecting-IP": bad }), IP, null), bad).toEqual({
        ok: false,
        error: `invalid CF-Connecting-IP header ${JSON.stringify(bad)} (expected an IPv4 or IPv6 address)`,
      });
    }
  });
});

describe("identify: header keys", () => {
  it("keys by the trimmed header value, prefixed so a key never shares an address's bucket", () => {
    expect(identify(request({ "X-API-Key": "  abc123 " }), API_KEY, null)).toEqual({
      ok: true,
      identity: "key:abc123",
    });
    const sameAsIp = request({ "x-api-key": "203.0.113.7", "CF-Connecting-IP": "203.0.113.7" });
    expect(identify(sameAsIp, API_KEY, null)).toEqual({ ok: true, identity: "key:203.0.113.7" });
    expect(identify(sameAsIp, IP, null)).toEqual({ ok: true, identity: "ip:203.0.113.7" });
  });

  it("rejects a missing or empty header, naming it", () => {
    expect(identify(request({}), API_KEY, null)).toEqual({
      ok: false,
      error: 'missing required header "x-api-key"',
    });
    expect(identify(request({ "x-api-key": "   " }), API_KEY, null)).toEqual({
      ok: false,
      error: 'missing required header "x-api-key"',
    });
  });

  it("rejects values over 1024 bytes, even with a fallback", () => {
    expect(identify(request({ "x-api-key": "k".repeat(1024) }), API_KEY, null)).toEqual({
      ok: true,
      identity: `key:${"k".repeat(1024)}`,
    });
    const tooLong = { ok: false, error: "header x-api-key is too long (max 1024 bytes)" };
    expect(identify(request({ "x-api-key": "k".repeat(1025) }), API_KEY, null)).toEqual(tooLong);
    const withIp = request({ "x-api-key": "k".repeat(1025), "CF-Connecting-IP": "203.0.113.7" });
    expect(identify(withIp, API_KEY, IP)).toEqual(tooLong);
  });
});

describe("identify: fallback", () => {
  it("is used only when the key yields nothing", () => {
    const both = request({ "x-api-key": "abc", "CF-Connecting-IP": "203.0.113.7" });
    expect(identify(both, API_KEY, IP)).toEqual({ ok: true, identity: "key:abc" });
    const ipOnly = request({ "CF-Connecting-IP": "203.0.113.7" });
    expect(identify(ipOnly, API_KEY, IP)).toEqual({ ok: true, identity: "ip:203.0.113.7" });
    const keyOnly = request({ "CF-Connecting-IP": "not-an-ip", "x-api-key": "abc" });
    expect(identify(keyOnly, IP, API_KEY)).toEqual({ ok: true, identity: "key:abc" });
  });

  it("reports both failures when the fallback fails too", () => {
    expect(identify(request({}), API_KEY, IP)).toEqual({
      ok: false,
      error: `missing required header "x-api-key"; fallback ip failed too: ${MISSING_IP}`,
    });
    expect(identify(request({}), IP, API_KEY)).toEqual({
      ok: false,
      error: `${MISSING_IP}; fallback header:x-api-key failed too: missing required header "x-api-key"`,
    });
  });
});

describe("ip helpers", () => {
  it("parses IPv6 spellings to eight groups and refuses malformed ones", () => {
    expect(parseIPv6("::")).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(parseIPv6("1::")).toEqual([1, 0, 0, 0, 0, 0, 0, 0]);
    expect(parseIPv6("1:2:3:4:5:6:7::")).toEqual([1, 2, 3, 4, 5, 6, 7, 0]);
    expect(parseIPv6("64:ff9b::192.0.2.33")).toEqual([0x64, 0xff9b, 0, 0, 0, 0, 0xc000, 0x0221]);
    for (const bad of [
      "",
      ":",
      ":::",
      "1:2:3:4:5:6:7:8:9",
      "1:2:3:4:5:6:7:8::",
      "12345::",
      "g::",
      "1.2.3.4::",
      "::1.2.3.4:5",
      "1::2::3",
    ]) {
      expect(parseIPv6(bad), bad).toBeNull();
    }
  });

  it("formats per RFC 5952", () => {
    expect(formatIPv6([0x2001, 0xdb8, 0, 0, 1, 0, 0, 1])).toBe("2001:db8::1:0:0:1");
    expect(formatIPv6([0x2001, 0xdb8, 0, 1, 1, 1, 1, 1])).toBe("2001:db8:0:1:1:1:1:1");
    expect(formatIPv6([1, 0, 0, 2, 0, 0, 0, 3])).toBe("1:0:0:2::3");
  });

  it("accepts only strict dotted quads", () => {
    expect(["255.255.255.255", "10.0.0.1"].map(isIPv4)).toEqual([true, true]);
    expect(["256.0.0.1", "01.0.0.1", "1.2.3", "1.2.3.4 ", "a.b.c.d"].map(isIPv4)).toEqual([
      false,
      false,
      false,
      false,
      false,
    ]);
  });
});
