/** Random configs of other sizes than the fixtures' (fixtures/configs/random.json, as the models package's tests). */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { RawConfig } from "@tessera/models";

const file = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "fixtures", "configs", "random.json");
export const CONFIGS: Record<string, RawConfig> = JSON.parse(readFileSync(file, "utf8"));
