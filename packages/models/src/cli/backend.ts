/**
 * Selecting a backend from the CLI: cpu (default; WASM SIMD and worker threads), webgpu
 * (Dawn through the optional `webgpu` package; SwiftShader when no GPU is present).
 */
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { initCpuThreads, listBackends, ready, setBackend } from "@tessera/tensor";
import { fail } from "../errors";

const SWIFTSHADER = "/usr/lib/chromium/vk_swiftshader_icd.json";
const keepAlive: unknown[] = [];

export async function startBackend(name: string): Promise<void> {
  if (name === "webgpu" && !listBackends().includes("webgpu")) {
    if (!process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER) && !existsSync("/dev/nvidia0")) process.env.VK_ICD_FILENAMES = SWIFTSHADER;
    process.env.XDG_RUNTIME_DIR ??= tmpdir();
    let mod: { create: (o: string[]) => unknown; globals: object };
    try {
      mod = (await import("webgpu")) as typeof mod;
    } catch {
      fail("tessera", "--backend webgpu needs the 'webgpu' package (npm install webgpu)");
    }
    Object.assign(globalThis, mod.globals);
    const gpu = mod.create([]);
    keepAlive.push(gpu);
    // The backend, and the packages' fused WGSL kernels (registered in the kernel registry on import).
    const [{ registerWebGPU }] = await Promise.all([
      import("@tessera/tensor/webgpu"),
      import("@tessera/attention/webgpu"),
      import("@tessera/quantize/webgpu"),
      import("@tessera/ssm/webgpu"),
    ]);
    registerWebGPU({ gpu: gpu as GPU });
  }
  if (!listBackends().includes(name))
    fail("tessera", `unknown backend '${name}' (available: ${["cpu", "webgpu", ...listBackends()].filter((v, i, a) => a.indexOf(v) === i).join(", ")})`);
  if (name === "cpu") await initCpuThreads();
  setBackend(name);
  await ready(name);
}
