/** @module `node --import tsx --import ./local/support/lua-loader/register.mjs x.ts`: lets plain Node scripts import the Lua. */
import { register } from "node:module";

register("./hooks.mjs", import.meta.url);
