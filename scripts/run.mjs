// Shared steps for the root commands: install the workspace with the pinned pnpm, and run
// workspace binaries (turbo) through it. Only Node and npm are needed beforehand.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const pm = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).packageManager; // "pnpm@x.y.z"

const env = {
  ...process.env,
  ONNXRUNTIME_NODE_INSTALL: "skip", // onnxruntime-node's CPU binaries ship in the package
  TURBO_TELEMETRY_DISABLED: "1",
  DO_NOT_TRACK: "1",
};

export function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: opts.cwd ?? root, stdio: "inherit", env: { ...env, ...opts.env } });
  if (r.error) throw r.error;
  return r.status ?? 1;
}

export function pnpm(args, opts = {}) {
  return sh("npx", ["-y", pm, ...args], opts);
}

export function step(name, status) {
  if (status !== 0) {
    console.error(`\n${name} failed (exit ${status})`);
    process.exit(status);
  }
}

/** Installs dependencies exactly as locked (fast when node_modules is already current). */
export function install() {
  const frozen = existsSync(join(root, "pnpm-lock.yaml")) ? ["--frozen-lockfile"] : [];
  step("install", pnpm(["install", ...frozen]));
}
