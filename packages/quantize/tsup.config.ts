import { packageConfig } from "../../tsup.package";

export default packageConfig({ index: "src/index.ts", webgpu: "src/webgpu.ts" });
