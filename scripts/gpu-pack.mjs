// `npm run gpu:pack`: builds what the GPU entry needs and bundles apps/bench/src/gpu-main.ts with
// node, Dawn and the Vulkan libraries into .gpu/ (../shared/gpu/pack.sh), ready to carry to the
// GPU machine: there, `bash apps/bench/gpu/run-on-gpu.sh`.
import { join } from "node:path";
import { install, pnpm, root, sh, step } from "./run.mjs";

install();
step("build", pnpm(["exec", "turbo", "run", "build", "--filter=@tessera/bench^...", "--output-logs=errors-only"]));
const packer = process.env.TESSERA_GPU_PACK ?? join(root, "..", "shared", "gpu", "pack.sh");
step("pack", sh("bash", [packer, "apps/bench/src/gpu-main.ts", ".gpu"]));
