// Type-checks the published declarations the way a user sees them: packs every public package,
// installs the tarballs into one temporary consumer project and runs `tsc --noEmit --strict`
// (skipLibCheck off, so our .d.ts files are checked too) on
//   - a file importing every entry point of every package (root and subpaths) and using the
//     typed reads a user writes first, with no @types package at all (`types: []`), plus a
//     CommonJS file (`require`, the .d.cts declarations) under node16;
//   - every ```ts / ```js block of every package README (extracted by readmeBlocks from
//     @tessera/tensor/testing, the same numbering as the README tests), with @types/node;
// under TypeScript 5.9 (the workspace's) and the current major from the registry (installed
// once into node_modules/.cache), each with moduleResolution "bundler" and "node16", and the
// entry file once more with node10 ("node", TypeScript 5 only) for typesVersions.
// A type error fails the run naming the package and README block (and its line in README.md),
// or the package whose declarations are at fault. Errors inside third-party declarations that a
// README example imports itself (the `webgpu` or `gpu.js` packages) are listed, not fatal.
//
//   node scripts/consumer-check.mjs            (after a build: turbo run build)
//   TESSERA_TS_LATEST=skip ...                  only TypeScript 5.9 (offline)
//   TESSERA_TS_LATEST=7.0.2 ...                 a given version instead of the registry's latest
import { execFile, execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { root } from "./run.mjs";

const run = promisify(execFile);
const started = Date.now();
const pm = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).packageManager;
const log = (s) => console.log(`consumer-check: ${s}`);

/** Public packages: name, folder, entry points ("." and subpaths). */
const packages = readdirSync(join(root, "packages"))
  .map((dir) => ({ dir, pkg: JSON.parse(readFileSync(join(root, "packages", dir, "package.json"), "utf8")) }))
  .filter(({ pkg }) => !pkg.private)
  .map(({ dir, pkg }) => ({
    dir,
    name: pkg.name,
    entries: Object.keys(pkg.exports ?? { ".": "" })
      .filter((k) => k !== "./package.json")
      .map((k) => (k === "." ? pkg.name : `${pkg.name}/${k.slice(2)}`)),
  }));

for (const { dir, name } of packages) {
  if (!existsSync(join(root, "packages", dir, "dist"))) {
    console.error(`consumer-check: ${name} has no dist/: build first (npx -y ${pm} exec turbo run build)`);
    process.exit(1);
  }
}

// --- TypeScript versions ------------------------------------------------------------------
const ts5 = { label: `TS ${JSON.parse(readFileSync(join(root, "node_modules/typescript/package.json"), "utf8")).version}`, tsc: join(root, "node_modules/typescript/bin/tsc") };
const versions = [ts5];
const wanted = process.env.TESSERA_TS_LATEST;
if (wanted !== "skip") {
  let v = wanted;
  if (!v) {
    try {
      v = execFileSync("npm", ["view", "typescript", "dist-tags.latest"], { encoding: "utf8", timeout: 30_000 }).trim();
    } catch (e) {
      console.error(
        `consumer-check: cannot ask the npm registry for the latest TypeScript (${e.message.split("\n")[0]}); set TESSERA_TS_LATEST=<version> or TESSERA_TS_LATEST=skip`,
      );
      process.exit(1);
    }
  }
  if (v.split(".")[0] !== ts5.label.slice(3).split(".")[0]) {
    const dir = join(root, "node_modules", ".cache", "tessera-consumer-check", `typescript-${v}`);
    const tsc = join(dir, "node_modules", "typescript", "bin", "tsc");
    if (!existsSync(tsc)) {
      log(`installing typescript@${v} into ${relative(root, dir)} (once)`);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, "package.json"), JSON.stringify({ private: true }));
      const r = spawnSync("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", `typescript@${v}`], { cwd: dir, stdio: "inherit" });
      if (r.status !== 0) {
        console.error(`consumer-check: npm install typescript@${v} failed`);
        process.exit(1);
      }
    }
    versions.push({ label: `TS ${v}`, tsc });
  }
}

// --- Pack and install ---------------------------------------------------------------------
const tmp = mkdtempSync(join(tmpdir(), "tessera-consumer-"));
const proj = join(tmp, "consumer");
mkdirSync(proj);
let failed = false;
try {
  // One pnpm for all (it rewrites workspace: ranges to versions, as publishing does).
  await run("npx", ["-y", pm, "-r", ...packages.flatMap((p) => ["--filter", p.name]), "pack", "--pack-destination", tmp], { cwd: root });
  const tarballs = readdirSync(tmp)
    .filter((f) => f.endsWith(".tgz"))
    .map((f) => join(tmp, f));
  writeFileSync(join(proj, "package.json"), JSON.stringify({ name: "tessera-consumer", version: "1.0.0", private: true, type: "module" }));
  const inst = spawnSync("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error", ...tarballs], { cwd: proj, stdio: "inherit" });
  if (inst.status !== 0) throw new Error("npm install of the tarballs failed");
  log(`packed and installed ${packages.map((p) => p.name).join(", ")} (${((Date.now() - started) / 1000).toFixed(1)} s)`);

  // Modules README examples import themselves (types for Node, and the GPU packages they show),
  // linked from the workspace: the user brings these, they are not dependencies of ours.
  const nm = join(proj, "node_modules");
  const link = (name, from) => {
    const src = join(from, name);
    if (!existsSync(src) || existsSync(join(nm, name))) return;
    mkdirSync(dirname(join(nm, name)), { recursive: true });
    symlinkSync(src, join(nm, name), "dir");
  };
  // Linked only after the entry-point programs ran: those must compile with nothing extra.

  // --- Consumer sources -------------------------------------------------------------------
  const allEntries = packages.flatMap((p) => p.entries);
  const ident = (e) => e.replace(/^@tessera\//, "").replace(/[^a-zA-Z0-9]+(.)/g, (_, c) => c.toUpperCase());
  writeFileSync(
    join(proj, "entries.ts"),
    `// Every entry point, and the reads users write first, with precise types (no casts).
${allEntries.map((e) => `import * as ${ident(e)} from "${e}";`).join("\n")}

export const modules = [${allEntries.map(ident).join(", ")}];
type IsAny<T> = 0 extends 1 & T ? true : false;
function notAny<T>(value: T, ..._check: IsAny<T> extends true ? ["is any"] : []): T {
  return value;
}

const t = tensor.tensor([[1, 2], [3, 4]]);
const total: number = t.dataSync("float32").reduce((a, v) => a + v, 0);
const ints: Int32Array = t.dataSync("int32");
const rows: number[][] = t.arraySync(2);
const cell: number = rows[0][1];
const nested: tensor.NestedArray = t.arraySync();
const values: Float32Array = await t.data("float32");
const cube: number[][][] = await t.array(3);
const nd = tensor.toNdarray(t);
const picked: number = nd.transpose(1, 0).get(0, 1);
const back: tensor.Tensor = tensor.fromNdarray(nd);
notAny(nd);

tensorWebgpu.registerWebGPU({ powerPreference: "low-power", poolLimit: 1 << 20 });

const llama = models.modelFromConfig({ model_type: "llama", vocab_size: 8, hidden_size: 8, intermediate_size: 8, num_hidden_layers: 1, num_attention_heads: 1 });
const generated: Promise<models.GenerateResult> = llama.model.generate([[1, 2]], { maxNewTokens: 1 });
const { model } = modelsNode.loadCausalLM("dir");
const out: Promise<models.GenerateResult> = model.generate([[1]], { maxNewTokens: 2 });
const lm: models.CausalLM = modelsNode.loadPretrained("dir", { task: "causal-lm" }).model;
const bert: models.BertForMaskedLM = models.modelFromConfig({ model_type: "bert" }).model;
const p = modelsNode.loadPretrained("dir");
if (p.task === "image-classification") {
  const vit: models.ViTForImageClassification = p.model;
  notAny(vit);
}
notAny(model);
export { total, ints, cell, nested, values, cube, picked, back, generated, out, lm, bert };
`,
  );
  writeFileSync(
    join(proj, "entries-cjs.cts"),
    `// CommonJS consumers: require() resolves the .d.cts declarations.
${allEntries.map((e) => `import ${ident(e)} = require("${e}");`).join("\n")}

export const modules = [${allEntries.map(ident).join(", ")}];
const t = tensor.tensor([1, 2, 3]);
export const sum: number = t.dataSync("float32").reduce((a, v) => a + v, 0);
export const row: number[] = t.arraySync(1);
export const lm = modelsNode.loadCausalLM("dir").model;
export const gen = lm.generate([[1]], { maxNewTokens: 1 });
`,
  );
  mkdirSync(join(proj, "node10"));
  writeFileSync(
    join(proj, "node10", "entries.ts"),
    `// moduleResolution node10 ignores "exports": subpaths resolve through typesVersions.
${allEntries.map((e) => `import * as ${ident(e)} from "${e}";`).join("\n")}

export const modules = [${allEntries.map(ident).join(", ")}];
export const rows: number[][] = tensor.tensor([[1, 2]]).arraySync(2);
export const gen = modelsNode.loadCausalLM("dir").model.generate([[1]], { maxNewTokens: 1 });
`,
  );

  // README blocks, extracted by the packed @tessera/tensor/testing (as the README tests do).
  const { readmeBlocks } = await import(pathToFileURL(join(nm, "@tessera/tensor/dist/testing.js")).href);
  /** file (relative to proj) -> where it came from */
  const origin = new Map();
  const readmeFiles = [];
  for (const { dir, name } of packages) {
    const readme = join(root, "packages", dir, "README.md");
    if (!existsSync(readme)) continue;
    const text = readFileSync(readme, "utf8");
    const blocks = await readmeBlocks(readme, 0, ["ts", "js"]); // js blocks are browser examples: type-checked here, run by apps/browser-test
    let at = 0;
    blocks.forEach((code, i) => {
      const pos = text.indexOf(code, at);
      at = pos + code.length;
      const line = text.slice(0, pos).split("\n").length;
      const file = join("readme", dir, `block${i + 1}.ts`);
      mkdirSync(join(proj, "readme", dir), { recursive: true });
      writeFileSync(join(proj, file), `${code}\nexport {};\n`);
      origin.set(file, { what: `${name} README block ${i + 1} (packages/${dir}/README.md line ${line})`, line });
      readmeFiles.push(file);
    });
  }

  // --- Configurations ---------------------------------------------------------------------
  const base = { strict: true, noEmit: true, skipLibCheck: false, target: "ES2022" };
  const resolutions = {
    bundler: { module: "ESNext", moduleResolution: "bundler" },
    node16: { module: "node16", moduleResolution: "node16" },
  };
  const jobs = [];
  for (const ts of versions) {
    for (const [res, opts] of Object.entries(resolutions)) {
      const files = res === "node16" ? ["entries.ts", "entries-cjs.cts"] : ["entries.ts"];
      // No DOM lib and no @types: what a Node project without extras has.
      jobs.push({ ts, name: `${ts.label} ${res}: entry points`, config: { compilerOptions: { ...base, ...opts, lib: ["ES2022"], types: [] }, files } });
      jobs.push({ ts, name: `${ts.label} ${res}: README blocks`, readme: true, config: { compilerOptions: { ...base, ...opts, types: ["node"] }, files: readmeFiles } });
    }
  }
  jobs.push({
    ts: ts5,
    name: `${ts5.label} node10: entry points (typesVersions)`,
    config: { compilerOptions: { ...base, module: "commonjs", moduleResolution: "node10", lib: ["ES2022"], types: [] }, files: ["node10/entries.ts"] },
  });

  // Entry-point programs first, with nothing but the tarballs (and their dependencies) installed.
  const runJobs = async (list) => {
    const results = [];
    const queue = [...list];
    const worker = async () => {
      for (let job = queue.shift(); job; job = queue.shift()) {
        const cfg = join(proj, `tsconfig.${results.length}-${Math.random().toString(36).slice(2)}.json`);
        writeFileSync(cfg, JSON.stringify(job.config, null, 2));
        const t0 = Date.now();
        const r = await run(process.execPath, [job.ts.tsc, "-p", cfg, "--pretty", "false"], { cwd: proj, maxBuffer: 64 << 20 }).then(
          (o) => ({ code: 0, out: o.stdout + o.stderr }),
          (e) => ({ code: e.code ?? 1, out: (e.stdout ?? "") + (e.stderr ?? "") }),
        );
        results.push({ job, ...r, secs: (Date.now() - t0) / 1000 });
      }
    };
    await Promise.all([worker(), worker()]);
    return results;
  };
  const entryResults = await runJobs(jobs.filter((j) => !j.readme));
  link("@types/node", join(root, "node_modules"));
  for (const m of ["gpu.js", "webgpu", "@types/ndarray"]) link(m, join(root, "packages", "tensor", "node_modules"));
  link("onnxruntime-node", join(root, "packages", "onnx", "node_modules")); // @tessera/onnx's README runs its exports in it
  const readmeResults = await runJobs(jobs.filter((j) => j.readme));

  for (const { job, code, out, secs } of [...entryResults, ...readmeResults]) {
    const errors = [];
    const foreign = [];
    for (const line of out.split("\n")) {
      const m = /^(.+?)\((\d+),(\d+)\): error (TS\d+: .*)$/.exec(line.trim());
      if (!m) {
        if (line.trim() && !line.startsWith(" ")) errors.push(line.trim());
        continue;
      }
      const [, file, l, c, msg] = m;
      const rel = relative(proj, join(proj, file)).split("\\").join("/");
      const pkg = /node_modules\/(@tessera\/[^/]+)\//.exec(rel);
      const src = origin.get(rel);
      if (src) errors.push(`${src.what}, block line ${l}:${c} (README line ${src.line + Number(l) - 1}): ${msg}`);
      else if (pkg) errors.push(`${pkg[1]}: published declarations ${rel.slice(rel.indexOf(pkg[1]))}(${l},${c}): ${msg}`);
      else if (rel.startsWith("node_modules/") || rel.includes("/node_modules/")) foreign.push(`${rel}(${l},${c}): ${msg}`);
      else errors.push(`${rel}(${l},${c}): ${msg}`);
    }
    const ok = errors.length === 0 && (code === 0 || foreign.length > 0);
    log(`${job.name}: ${ok ? "ok" : "FAILED"} (${secs.toFixed(1)} s)`);
    if (foreign.length) {
      const mods = [...new Set(foreign.map((f) => /.*node_modules\/((?:@[^/]+\/)?[^/(]+)/.exec(f)?.[1]))].join(", ");
      log(`  note: ${foreign.length} error(s) in third-party declarations a README example imports (${mods}), not ours; e.g. ${foreign[0]}`);
    }
    if (!ok) {
      failed = true;
      for (const e of errors.slice(0, 30)) console.error(`  ${e}`);
      if (errors.length > 30) console.error(`  ... ${errors.length - 30} more`);
    }
  }
} catch (e) {
  failed = true;
  console.error(`consumer-check: ${e.stack ?? e}`);
} finally {
  if (process.env.TESSERA_KEEP_CONSUMER) log(`consumer project kept at ${proj}`);
  else rmSync(tmp, { recursive: true, force: true });
}
log(`${failed ? "FAILED" : "ok"}: ${versions.map((v) => v.label).join(" + ")} x bundler/node16 (+ node10) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
process.exit(failed ? 1 : 0);
