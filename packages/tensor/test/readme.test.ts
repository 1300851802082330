/** Runs every ```ts block of README.md as a module (the examples are tests). */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, it } from "vitest";
import { readmeBlocks } from "../src/testing";

const here = dirname(fileURLToPath(import.meta.url));
const blocks = await readmeBlocks(join(here, "..", "README.md"), 8);
const dir = join(here, ".readme-blocks");
mkdirSync(dir, { recursive: true });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("README examples", () => {
  blocks.forEach((code, i) => {
    it(`block ${i + 1}`, async () => {
      const file = join(dir, `block${i}.ts`);
      writeFileSync(file, code);
      await import(file);
    });
  });
});
