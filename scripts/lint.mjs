// `npm run lint` (also a step of `npm test`): Biome's formatter and linter over the repository
// (biome.json), then a self-test of the boundary rule: a file importing across an arrow the
// wrong way (tensor -> attention, attention -> quantize, models -> onnx, native -> models) must fail the lint.
import { spawnSync } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { root } from "./run.mjs";

const biome = join(root, "node_modules", ".bin", "biome");
const run = (args) => spawnSync(biome, args, { cwd: root, encoding: "utf8" });

const check = run(["check", "--max-diagnostics=50", "."]);
process.stdout.write(check.stdout);
process.stderr.write(check.stderr);
if (check.status !== 0) {
  console.error("lint: biome check failed (run `npx biome check --write .` to apply the formatter and the safe fixes)");
  process.exit(1);
}

const forbidden = [
  ["packages/tensor/src", "@tessera/attention"],
  ["packages/attention/src", "@tessera/quantize"],
  ["packages/masked/src", "@tessera/models"],
  ["packages/models/src", "@tessera/onnx"],
  ["packages/native/src", "@tessera/models"],
];
let bad = 0;
for (const [dir, spec] of forbidden) {
  const file = join(root, dir, "__boundary_self_test__.ts");
  writeFileSync(file, `import { x } from "${spec}";\nexport const y = x;\n`);
  try {
    const r = run(["lint", file]);
    const said = `${r.stdout}${r.stderr}`;
    if (r.status === 0 || !said.includes("Arrows point one way")) {
      console.error(`lint: the boundary rule did not reject an import of ${spec} from ${dir}`);
      bad++;
    }
  } finally {
    rmSync(file, { force: true });
  }
}
if (bad) process.exit(1);
console.log(`lint: biome check passed; the boundary rule rejects all ${forbidden.length} forbidden imports it was shown`);
