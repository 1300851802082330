// `npm run pack:all`: install, build, and pack every public package into ./packs/ — the tarballs
// a project installs from before the packages are on the registry:
//   npm install /path/to/tessera/packs/tessera-tensor-0.1.0.tgz /path/to/tessera/packs/tessera-attention-0.1.0.tgz
import { mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { install, pnpm, root, step } from "./run.mjs";

install();
step("build", pnpm(["exec", "turbo", "run", "build", "--filter=./packages/*", "--output-logs=errors-only"]));
const out = join(root, "packs");
rmSync(out, { recursive: true, force: true });
mkdirSync(out);
for (const dir of readdirSync(join(root, "packages"))) {
  const pkg = JSON.parse(readFileSync(join(root, "packages", dir, "package.json"), "utf8"));
  if (pkg.private) continue;
  step(`pack ${pkg.name}`, pnpm(["pack", "--pack-destination", out], { cwd: join(root, "packages", dir) }));
}
console.log(
  `\ntarballs in ${out}:\n${readdirSync(out)
    .map((f) => `  ${f}`)
    .join("\n")}`,
);
