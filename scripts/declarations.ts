/** @module The package's type declarations (dist/types), each entry compiled under its own target's tsconfig. */
import { existsSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";

/** One exported entry: its source and the tsconfig of the target it runs on. */
export interface DeclarationEntry {
  source: string;
  tsconfig: string;
}

/** The package's subpath exports, as in package.json's `exports`. */
export const PACKAGE_ENTRIES: DeclarationEntry[] = [
  { source: "workers/index.ts", tsconfig: "workers/tsconfig.json" },
  { source: "client/index.ts", tsconfig: "client/tsconfig.json" },
];

/**
 * The specifier a `.d.ts` needs under `moduleResolution: node16/nodenext`, where relative imports carry
 * their extension and a folder is no module: `./app` becomes `./app/index.js`, `./headers` `./headers.js`.
 * Bare specifiers (`hono`) and ones that already name a file stay as they are.
 *
 * @example
 * explicitSpecifier("/repo/workers", "../lua"); // "../lua/index.js"
 */
export function explicitSpecifier(sourceDir: string, specifier: string): string {
  if (!specifier.startsWith("./") && !specifier.startsWith("../")) return specifier;
  // A file named with its own extension (`.js`, `.json`, `.lua`) is already explicit; `.ts` becomes `.js`.
  if (/\.[a-z]+$/.test(specifier) && !/\.m?ts$/.test(specifier)) return specifier;
  const bare = specifier.replace(/\.(ts|mts)$/, "");
  const target = resolve(sourceDir, bare);
  if (existsSync(`${target}.ts`) || existsSync(`${target}.mts`)) return `${bare}.js`;
  if (existsSync(join(target, "index.ts"))) return `${bare.replace(/\/$/, "")}/index.js`;
  throw new Error(`declarations: cannot resolve "${specifier}" from ${sourceDir}`);
}

/** Every module specifier in a declaration file: import/export declarations and `import("…")` types. */
function specifierNodes(file: ts.SourceFile): ts.StringLiteral[] {
  const found: ts.StringLiteral[] = [];
  function visit(node: ts.Node): void {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier) {
      if (ts.isStringLiteral(node.moduleSpecifier)) found.push(node.moduleSpecifier);
    } else if (ts.isImportTypeNode(node)) {
      const arg = node.argument;
      if (ts.isLiteralTypeNode(arg) && ts.isStringLiteral(arg.literal)) found.push(arg.literal);
    }
    ts.forEachChild(node, visit);
  }
  visit(file);
  return found;
}

/**
 * Rewrites the relative specifiers of one emitted `.d.ts` (text edits, back to front, so nothing else moves).
 *
 * @example
 * const text = withExplicitSpecifiers(dts, "/repo/workers/index.d.ts", "/repo/workers");
 */
export function withExplicitSpecifiers(text: string, fileName: string, sourceDir: string): string {
  const file = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, false);
  let out = text;
  for (const node of specifierNodes(file).reverse()) {
    const replaced = explicitSpecifier(sourceDir, node.text);
    if (replaced === node.text) continue;
    out = `${out.slice(0, node.getStart(file) + 1)}${replaced}${out.slice(node.getEnd() - 1)}`;
  }
  return out;
}

function formatDiagnostics(diagnostics: readonly ts.Diagnostic[]): string {
  return ts.formatDiagnostics(diagnostics, {
    getCanonicalFileName: (f) => f,
    getCurrentDirectory: () => process.cwd(),
    getNewLine: () => "\n",
  });
}

/** Emits one entry's declarations (and those of everything it imports) into `outDir`, mirroring the source tree. */
function emitEntry(root: string, entry: DeclarationEntry, outDir: string): void {
  const configPath = resolve(root, entry.tsconfig);
  const parsed = ts.getParsedCommandLineOfConfigFile(
    configPath,
    { noEmit: false, declaration: true, emitDeclarationOnly: true, outDir, rootDir: root },
    { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => console.error(formatDiagnostics([d])) },
  );
  if (!parsed) throw new Error(`declarations: cannot read ${entry.tsconfig}`);
  // The entry and what it imports, plus the target's ambient declarations (`*.lua` as text).
  const ambient = parsed.fileNames.filter((f) => f.endsWith(".d.ts"));
  const program = ts.createProgram([resolve(root, entry.source), ...ambient], parsed.options);
  const result = program.emit(undefined, (fileName, text) => {
    // The declaration of `<root>/x/y.ts` lands at `<outDir>/x/y.d.ts`: its imports resolve against `<root>/x`.
    const sourceDir = resolve(root, relative(outDir, dirname(fileName)));
    ts.sys.writeFile(fileName, withExplicitSpecifiers(text, fileName, sourceDir));
  });
  const problems = [...ts.getPreEmitDiagnostics(program), ...result.diagnostics];
  if (problems.length > 0 || result.emitSkipped) {
    throw new Error(`declarations for ${entry.source}:\n${formatDiagnostics(problems)}`);
  }
}

/**
 * Writes `dist/types` afresh for every package entry.
 *
 * @example
 * await buildDeclarations(process.cwd()); // dist/types/workers/index.d.ts, dist/types/client/index.d.ts, …
 */
export async function buildDeclarations(root: string, entries = PACKAGE_ENTRIES): Promise<void> {
  const outDir = resolve(root, "dist/types");
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  for (const entry of entries) emitEntry(root, entry, outDir);
}
