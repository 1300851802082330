import { packageConfig } from "../../tsup.package";

export default packageConfig({ index: "src/index.ts", node: "src/node.ts", cli: "src/cli/main.ts", webgpu: "src/webgpu.ts" });
