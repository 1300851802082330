/** Every ```ts block of README.md runs as a test. */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, it } from "vitest";
import { readmeSuite } from "@tessera/tensor/testing";

await readmeSuite(join(dirname(fileURLToPath(import.meta.url)), "..", "README.md"), (f) => import(f), { describe, it, afterAll }, 2);
