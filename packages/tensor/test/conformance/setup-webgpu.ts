/** The webgpu backend for tests (see useTestBackend in src/testing). */
import { useTestBackend } from "../../src/testing";

export async function setupWebGPU(): Promise<void> {
  await useTestBackend("webgpu");
}
