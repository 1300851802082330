// `npm test`: install, build, typecheck and test every package, then check that each public
// package installs alone from its packed tarball (ESM and CJS), and that the packed
// declarations and every README example type-check in a consumer project (consumer-check.mjs).
// Ends with one summary line.
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { install, pnpm, root, sh, step } from "./run.mjs";

install();
const workspaces = ["packages", "apps"].flatMap((d) => readdirSync(join(root, d)).map((p) => join(root, d, p)));
for (const w of workspaces) rmSync(join(w, ".vitest-results.json"), { force: true });
const lintStatus = sh("node", [join(root, "scripts", "lint.mjs")]);
step("build + typecheck", pnpm(["exec", "turbo", "run", "build", "typecheck", "--output-logs=errors-only"]));
const testStatus = pnpm(["exec", "turbo", "run", "test", "--continue", "--output-logs=full", "--", "--reporter=default", "--reporter=json", "--outputFile=.vitest-results.json"]);

let passed = lintStatus === 0 ? 1 : 0;
let failed = lintStatus === 0 ? 0 : 1;
let skipped = 0;
const firstLine = (message) => String(message).split("\n")[0].slice(0, 300);
const failures = []; // "workspace: file > test: first line of the message", repeated at the end (CI shows the tail)
for (const w of workspaces) {
  const f = join(w, ".vitest-results.json");
  if (!existsSync(f)) continue;
  const r = JSON.parse(readFileSync(f, "utf8"));
  for (const file of r.testResults ?? []) {
    const where = `${w.slice(root.length + 1)}: ${file.name.slice(w.length + 1)}`;
    for (const a of file.assertionResults ?? []) {
      if (a.status === "failed") failures.push(`${where} > ${a.fullName}: ${firstLine(a.failureMessages?.[0] ?? "")}`);
    }
    if (file.status === "failed" && !(file.assertionResults ?? []).some((a) => a.status === "failed"))
      failures.push(`${where}: ${firstLine(file.message || "failed outside a test")}`);
  }
  passed += r.numPassedTests;
  skipped += r.numPendingTests + r.numTodoTests;
  failed += r.numFailedTests + (r.numTotalTestSuites > 0 && r.success === false && r.numFailedTests === 0 ? 1 : 0);
}
// CI (TESSERA_REQUIRE_WEBGPU=1) runs everything: a skipped test there is a failure.
if (skipped && process.env.TESSERA_REQUIRE_WEBGPU === "1") failed += 1;
const packStatus = sh("node", [join(root, "scripts", "pack-check.mjs")]);
if (packStatus === 0) passed += 1;
else failed += 1;
const consumerStatus = sh("node", [join(root, "scripts", "consumer-check.mjs")]);
if (consumerStatus === 0) passed += 1;
else failed += 1;
const publishStatus = sh("node", [join(root, "scripts", "publish-check.mjs")]);
if (publishStatus === 0) passed += 1;
else failed += 1;
if (skipped) {
  console.log(
    `\n${skipped} tests skipped: they need a WebGPU adapter, Debian's chromium or a C compiler (for @tessera/native), not found here (the [tessera] lines above say why).`,
  );
  console.log("Install them with `apt-get install chromium libvulkan1 gcc` (as .ci/run does) to run every test; CI sets TESSERA_REQUIRE_WEBGPU=1 so nothing is skipped there.");
}
if (failures.length) console.log(`\nfailed tests:\n${failures.map((f) => `  ${f}`).join("\n")}`);
console.log(`\ntests: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exit(lintStatus || testStatus || packStatus || consumerStatus || publishStatus || (failed ? 1 : 0));
