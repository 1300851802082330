#!/usr/bin/env node
// Builds the native addon build/tessera_native.node from csrc/ with the system C compiler ($CC,
// else cc): no node-gyp, no downloaded headers (csrc/napi-min.h declares the Node-API calls).
// kernels.c, attention_kernels.c and rows_kernels.c are compiled once per instruction set (x86-64: avx512, avx2, generic; elsewhere
// generic) and the addon picks the best the cpu has when it loads.
//
//   node scripts/build-native.mjs             build; exit 1 with the reason when it cannot
//   node scripts/build-native.mjs --optional  build when possible; otherwise say why, exit 0
//                                              (the package's install script: Tessera then
//                                              runs its WebAssembly kernels)
// The .node file is written to a temporary name and renamed: a failed build keeps the old one.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { arch, platform } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const pkg = join(dirname(fileURLToPath(import.meta.url)), "..");
const src = join(pkg, "csrc");
const out = join(pkg, "build");
const objDir = join(out, "obj");
const optional = process.argv.includes("--optional");
const cc = process.env.CC || "cc";

function give_up(reason) {
  if (optional) {
    console.log(
      `[tessera] @tessera/native: addon not built (${reason}); Tessera uses its WebAssembly kernels. Build it later with \`node ${join("node_modules", "@tessera", "native", "scripts", "build-native.mjs")}\`.`,
    );
    process.exit(0);
  }
  console.error(`@tessera/native: ${reason}`);
  process.exit(1);
}

if (process.env.TESSERA_NATIVE_SKIP_BUILD === "1") give_up("TESSERA_NATIVE_SKIP_BUILD=1");
if (platform() === "win32") give_up("Windows is not supported yet (the build calls a Unix C compiler)");
if (!existsSync(join(src, "addon.c"))) give_up(`sources missing in ${src}`);
try {
  execFileSync(cc, ["--version"], { stdio: "ignore" });
} catch {
  give_up(`no C compiler: \`${cc} --version\` failed (install gcc or clang, or set CC)`);
}

const x86 = arch() === "x64";
const base = ["-O3", "-fPIC", "-std=gnu11", "-fvisibility=hidden", "-Wall", "-Wextra", "-Werror=implicit-function-declaration", "-fno-math-errno"];
// [object, source, flags]
// The files compiled once per instruction set (x86-64: avx512, avx2, generic; elsewhere generic).
const perIsa = ["kernels", "attention_kernels", "rows_kernels"];
const isaFlags = [
  ["generic", ["-DVW=4", "-DKSUFFIX=generic"]],
  ...(x86
    ? [
        ["avx2", ["-DVW=8", "-DKSUFFIX=avx2", "-mavx2", "-mfma"]],
        ["avx512", ["-DVW=16", "-DKSUFFIX=avx512", "-mavx512f", "-mfma"]],
      ]
    : []),
];
// [object, source, flags]
const units = [
  ...["addon", "gemm", "attention", "elementwise", "copy", "pool"].map((f) => [`${f}.o`, `${f}.c`, []]),
  ...perIsa.flatMap((f) => isaFlags.map(([isa, flags]) => [`${f}_${isa}.o`, `${f}.c`, flags])),
];
mkdirSync(objDir, { recursive: true });
const tmp = join(out, `tessera_native.${process.pid}.tmp.node`);
try {
  for (const [obj, file, flags] of units) execFileSync(cc, [...base, ...flags, "-c", join(src, file), "-o", join(objDir, obj)], { stdio: ["ignore", "inherit", "inherit"] });
  const link = platform() === "darwin" ? ["-bundle", "-undefined", "dynamic_lookup"] : ["-shared"];
  execFileSync(cc, [...link, "-o", tmp, ...units.map(([obj]) => join(objDir, obj)), "-pthread", "-lm"], { stdio: ["ignore", "inherit", "inherit"] });
  renameSync(tmp, join(out, "tessera_native.node"));
} catch (e) {
  rmSync(tmp, { force: true });
  give_up(`compiling failed: ${String(e.message).split("\n")[0]}`);
}
console.log(`[tessera] @tessera/native: built ${join(out, "tessera_native.node")} (${x86 ? "avx512, avx2, generic" : "generic"} kernels)`);
