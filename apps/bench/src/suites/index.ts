import type { Suite } from "../suite";
import { matmulSuite } from "./matmul";
import { opsSuite } from "./ops";
import { attentionSuite } from "./attention";
import { ssmSuite } from "./ssm";
import { modelsSuite } from "./models";
import { quantizeSuite } from "./quantize";
import { codebookSuite } from "./codebook";

/** Every suite, in the order `pnpm bench` runs them. */
export const SUITES: Suite[] = [matmulSuite, opsSuite, attentionSuite, ssmSuite, quantizeSuite, codebookSuite, modelsSuite];
