/**
 * Maps Tessera's module names to Hugging Face checkpoint names and back, by templates:
 * `{i}` matches a layer index and `{*}` any dotted rest, e.g.
 *   ["blocks.{i}.mixer.qkv.{*}", "transformer.h.{i}.attn.c_attn.{*}"].
 * Names that match no rule are kept (a swapped-in mixer saves under its own names).
 */
export type NameRule = readonly [ours: string, hf: string];

interface Compiled {
  from: RegExp;
  to: string;
}

function compile(from: string, to: string): Compiled {
  const esc = from.replace(/[.+?^$()[\]\\|]/g, "\\$&");
  const re = esc.replace(/\{i\}/g, "(?<i>\\d+)").replace(/\{\*\}/g, "(?<rest>.+)");
  return { from: new RegExp(`^${re}$`), to };
}

function apply(rules: Compiled[], name: string): string {
  for (const r of rules) {
    const m = r.from.exec(name);
    if (m) return r.to.replace("{i}", m.groups?.i ?? "").replace("{*}", m.groups?.rest ?? "");
  }
  return name;
}

export class NameMap {
  private readonly forward: Compiled[];
  private readonly backward: Compiled[];
  constructor(readonly rules: readonly NameRule[]) {
    this.forward = rules.map(([o, h]) => compile(o, h));
    this.backward = rules.map(([o, h]) => compile(h, o));
  }

  toHF(name: string): string {
    return apply(this.forward, name);
  }

  fromHF(name: string): string {
    return apply(this.backward, name);
  }
}
