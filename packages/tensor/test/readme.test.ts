/** Runs every ```ts block of README.md as a module (they import "@tessera/tensor"). */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, it } from "vitest";

const here = dirname(fileURLToPath(import.meta.url));
const readme = readFileSync(join(here, "..", "README.md"), "utf8");
const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
const dir = join(here, ".readme-blocks");
mkdirSync(dir, { recursive: true });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("README examples", () => {
  it("has examples", () => {
    if (blocks.length < 5) throw new Error(`expected the README's examples, found ${blocks.length} blocks`);
  });
  blocks.forEach((code, i) => {
    const title = code.split("\n").find((l) => l.startsWith("import {"))?.slice(0, 60) ?? `block ${i}`;
    it(`block ${i + 1}: ${title}`, async () => {
      const file = join(dir, `block${i}.ts`);
      writeFileSync(file, code);
      await import(file);
    });
  });
});
