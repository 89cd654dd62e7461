/** @module Types of minify.mjs (plain JS, so Node's module hooks can load it without a TypeScript loader). */
export declare function minifyLua(source: string): string;
