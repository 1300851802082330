// `pnpm publish --dry-run` for every public package (after a build): what would be published,
// with the fields a registry page needs. Fails on a publish error or warning (other than the
// dry run's missing login), or on a package without README, LICENSE, CHANGELOG, repository,
// license, engines or public access.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { root } from "./run.mjs";

const pm = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).packageManager;
const problems = [];
for (const dir of readdirSync(join(root, "packages"))) {
  const cwd = join(root, "packages", dir);
  const pkg = JSON.parse(readFileSync(join(cwd, "package.json"), "utf8"));
  if (pkg.private) continue;
  for (const field of ["repository", "license", "engines", "files", "exports"]) if (!pkg[field]) problems.push(`${pkg.name}: package.json has no '${field}'`);
  if (pkg.publishConfig?.access !== "public") problems.push(`${pkg.name}: publishConfig.access must be "public" (a scoped package is private by default)`);
  const r = spawnSync("npx", ["-y", pm, "publish", "--dry-run", "--no-git-checks"], { cwd, encoding: "utf8", env: { ...process.env, npm_config_loglevel: "notice" } });
  const out = `${r.stdout}\n${r.stderr}`;
  if (r.status !== 0) problems.push(`${pkg.name}: publish --dry-run exited ${r.status}\n${out.slice(-2000)}`);
  for (const line of out.split("\n")) {
    if (/npm (warn|error|ERR)/i.test(line) && !/requires you to be logged in/.test(line)) problems.push(`${pkg.name}: ${line.trim()}`);
  }
  const files = out
    .split("\n")
    .map((l) => l.match(/^npm notice [\d.]+[kMG]?B\s+(\S+)$/)?.[1])
    .filter(Boolean);
  for (const want of ["README.md", "LICENSE", "CHANGELOG.md", "package.json"]) if (!files.includes(want)) problems.push(`${pkg.name}: the tarball lacks ${want}`);
  if (!files.some((f) => f.startsWith("dist/"))) problems.push(`${pkg.name}: the tarball has no dist/ (build first)`);
  console.log(`publish-check ${pkg.name}@${pkg.version}: ${files.length} files`);
}
if (problems.length) {
  console.error(`publish-check failed:\n- ${problems.join("\n- ")}`);
  process.exit(1);
}
console.log("publish-check: every public package would publish cleanly");
