/** @module The Lua guard --upstash-semantics puts in front of a script: undeclared keys and database-wide commands refused, TIME optionally refused. */

/** What the guard checks. */
export interface GuardOptions {
  /** Refuse keys not in KEYS and database-wide commands (a script flagged `allow-key-locking`). */
  checkKeys: boolean;
  /** Make `TIME` fail (a store that forbids clock reads in scripts). */
  refuseTime: boolean;
}

// Commands whose only key is their first argument: checked without asking Redis. Any other command's
// keys come from COMMAND GETKEYS, which knows every command's key specs.
const FIRST_ARG_KEY = [
  "get",
  "set",
  "getset",
  "getdel",
  "getex",
  "incr",
  "incrby",
  "decr",
  "decrby",
  "expire",
  "pexpire",
  "pexpireat",
  "ttl",
  "pttl",
  "persist",
  "hget",
  "hset",
  "hincrby",
  "hmget",
  "hgetall",
  "zadd",
  "zrem",
  "zcard",
  "zrange",
  "zremrangebyscore",
];

/** Commands whose every argument is a key. */
const ALL_ARGS_KEYS = ["del", "unlink", "exists", "touch", "mget"];

/** Commands that need the whole database: Upstash refuses them in a script flagged allow-key-locking. */
const DATABASE_WIDE = [
  "flushdb",
  "flushall",
  "keys",
  "scan",
  "randomkey",
  "dbsize",
  "swapdb",
  "select",
  "move",
];

/** A name list as one Lua string `",a,b,"`: a plain `string.find` per command, no table built per run. */
function luaList(names: readonly string[]): string {
  return `",${names.join(",")},"`;
}

/**
 * The guard as one line of Lua: a local `redis` whose `call` and `pcall` check each command before
 * passing it to the real one (everything else, such as `error_reply`, is the real table's).
 *
 * @example
 * guardLua({ checkKeys: true, refuseTime: false }); // "local redis = (function(r) … end)(redis);"
 */
export function guardLua(options: GuardOptions): string {
  const refusal = "ERR upstash-semantics:";
  return [
    "local redis = (function(r)",
    // The guard runs on every call of the script: nothing is built per run but two closures and a table.
    "local find, lower_of = string.find, string.lower",
    "local function declared(key) for i = 1, #KEYS do if KEYS[i] == key then return true end end return false end",
    `local first, all, wide = ${luaList(FIRST_ARG_KEY)}, ${luaList(ALL_ARGS_KEYS)}, ${luaList(DATABASE_WIDE)}`,
    "local function listed(list, name) return find(list, ',' .. name .. ',', 1, true) ~= nil end",
    "local function refused(name, ...)",
    "local lower = lower_of(tostring(name))",
    options.refuseTime
      ? `if lower == "time" then return "${refusal} TIME is not allowed in scripts on this store" end`
      : "",
    options.checkKeys
      ? [
          `if listed(wide, lower) then return "${refusal} " .. lower .. " needs the whole database; a script flagged allow-key-locking may not run it" end`,
          "local keys",
          "if listed(first, lower) then keys = { (select(1, ...)) } elseif listed(all, lower) then keys = { ... } else",
          'local found = r.pcall("COMMAND", "GETKEYS", name, ...)',
          'keys = type(found) == "table" and not found.err and found or {} end',
          "for _, key in ipairs(keys) do",
          `if not declared(key) then return "${refusal} the script touched key '" .. tostring(key) .. "', which is not in KEYS (a script flagged allow-key-locking must declare every key it touches)" end`,
          "end",
        ].join(" ")
      : "",
    "return nil end",
    "local guarded = { call = function(name, ...) local why = refused(name, ...) if why then error({ err = why }) end return r.call(name, ...) end,",
    "pcall = function(name, ...) local why = refused(name, ...) if why then return { err = why } end return r.pcall(name, ...) end }",
    "return setmetatable(guarded, { __index = r }) end)(redis);",
  ]
    .filter((part) => part.length > 0)
    .join(" ");
}

/**
 * The script with the guard in front, on the line after the shebang (or on the first line when there is
 * none), so Lua's line numbers in error messages do not move. A script that needs no guard is unchanged.
 *
 * @example
 * guardScript("#!lua\nreturn redis.call('GET', KEYS[1])", { checkKeys: true, refuseTime: false });
 * // "#!lua\nlocal redis = (…)(redis); return redis.call('GET', KEYS[1])"
 */
export function guardScript(script: string, options: GuardOptions): string {
  if (!options.checkKeys && !options.refuseTime) return script;
  const guard = guardLua(options);
  if (!script.startsWith("#!")) return `${guard} ${script}`;
  const end = script.indexOf("\n");
  if (end === -1) return `${script}\n${guard}`;
  return `${script.slice(0, end + 1)}${guard} ${script.slice(end + 1)}`;
}
