import type { Suite } from "../suite";
import { matmulSuite } from "./matmul";
import { opsSuite } from "./ops";
import { attentionSuite } from "./attention";
import { ssmSuite } from "./ssm";
import { modelsSuite } from "./models";
import { quantizeSuite } from "./quantize";
import { codebookSuite } from "./codebook";
import { tasksSuite } from "./tasks";

/** The suites `pnpm bench` runs when none is named, in that order. */
export const SUITES: Suite[] = [matmulSuite, opsSuite, attentionSuite, ssmSuite, quantizeSuite, codebookSuite, modelsSuite];

/** Every suite that can be named: the default ones, then `tasks` (trains models for minutes, so it runs only when named). */
export const ALL_SUITES: Suite[] = [...SUITES, tasksSuite];
