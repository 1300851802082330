/**
 * Every ```ts block of README.md runs as a test. The WebGPU example needs an adapter (Dawn on a
 * GPU or SwiftShader): without one it is skipped with a printed reason (never in CI, where
 * TESSERA_REQUIRE_WEBGPU=1 makes a missing adapter a failure).
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, it } from "vitest";
import { probeTestBackend, readmeSuite } from "../src/testing";

const webgpu = await probeTestBackend("webgpu");
const needsGpu = (code: string) => (!webgpu.available && /from "webgpu"/.test(code) ? `needs a WebGPU adapter (${webgpu.reason})` : null);
await readmeSuite(join(dirname(fileURLToPath(import.meta.url)), "..", "README.md"), (f) => import(f), { describe, it, afterAll, skip: it.skip }, 8, { skip: needsGpu });
