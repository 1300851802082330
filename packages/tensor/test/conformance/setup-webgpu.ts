/**
 * Registers the webgpu backend for tests: Dawn from the `webgpu` package; on a machine without
 * a GPU, SwiftShader (Debian's chromium ships its Vulkan ICD; libvulkan1 is the loader).
 */
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { registerWebGPU } from "../../src/webgpu";
import * as T from "../../src/index";

const SWIFTSHADER = "/usr/lib/chromium/vk_swiftshader_icd.json";

let gpuRef: unknown = null; // keep the GPU object alive for the whole run (Dawn gotcha)

export async function setupWebGPU(): Promise<T.Backend> {
  if (!process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER)) process.env.VK_ICD_FILENAMES = SWIFTSHADER;
  process.env.XDG_RUNTIME_DIR ??= tmpdir(); // SwiftShader's WSI probe complains without it
  const { create, globals } = await import("webgpu");
  Object.assign(globalThis, globals);
  gpuRef = create([]);
  registerWebGPU({ gpu: gpuRef as GPU });
  try {
    return await T.ready("webgpu");
  } catch (e) {
    throw new Error(
      `the webgpu backend did not start (${(e as Error).message}). CI installs Debian's chromium (SwiftShader) and libvulkan1 in .ci/run; ` +
        `locally: apt-get install -y chromium libvulkan1`,
    );
  }
}
