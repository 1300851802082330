import { packageConfig } from "../../tsup.package";

// shims: import.meta.url in the CJS build (the addon is found relative to dist/)
export default packageConfig({ index: "src/index.ts", browser: "src/browser.ts" }, { shims: true });
