/**
 * nn.Module: a tree of named parameters, buffers and submodules. Names join with '.', so
 * `namedParameters()` keys are the safetensors keys a Hugging Face checkpoint uses
 * (`h.0.attn.c_attn.weight`).
 */
import { keep } from "../core/engine";
import { fail, fmtShape } from "../core/errors";
import { shapesEqual } from "../core/shape";
import type { Tensor } from "../core/tensor";
import { assign } from "../ops/inplace";

export class Module {
  private readonly params = new Map<string, Tensor>();
  private readonly buffers = new Map<string, Tensor>();
  private readonly children = new Map<string, Module>();
  training = true;

  /** Registers a trainable tensor (kept out of tidy) and returns it. */
  protected registerParameter(name: string, t: Tensor): Tensor {
    this.checkName(name);
    this.params.set(name, keep(t));
    return t;
  }

  /** Registers non-trainable state that is saved with the parameters (e.g. running statistics). */
  protected registerBuffer(name: string, t: Tensor): Tensor {
    this.checkName(name);
    this.buffers.set(name, keep(t));
    return t;
  }

  protected registerModule<M extends Module>(name: string, m: M): M {
    this.checkName(name);
    this.children.set(name, m);
    return m;
  }

  private checkName(name: string): void {
    if (!name || name.includes(".")) fail("Module", `invalid name '${name}': names are non-empty and have no '.'`);
    if (this.params.has(name) || this.buffers.has(name) || this.children.has(name)) fail("Module", `name '${name}' is already registered`);
  }

  /** Unregisters a parameter (e.g. a weight replaced by a quantized copy); returns it, not disposed. */
  protected removeParameter(name: string): Tensor {
    const t = this.params.get(name);
    if (!t) fail("Module", `no parameter '${name}'`);
    this.params.delete(name);
    return t;
  }

  /** Replaces a registered parameter's tensor (e.g. to tie weights); the old one is not disposed. */
  protected setParameter(name: string, t: Tensor): void {
    if (!this.params.has(name)) fail("Module", `no parameter '${name}'`);
    this.params.set(name, keep(t));
  }

  namedModules(prefix = ""): Map<string, Module> {
    const out = new Map<string, Module>([[prefix, this]]);
    for (const [n, m] of this.children) for (const [k, v] of m.namedModules(prefix ? `${prefix}.${n}` : n)) out.set(k, v);
    return out;
  }

  /** Parameters by dotted name. A tensor registered twice (tied weights) appears once, under its first name. */
  namedParameters(prefix = ""): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    const seen = new Set<Tensor>();
    const walk = (m: Module, p: string): void => {
      for (const [n, t] of m.params) {
        if (seen.has(t)) continue;
        seen.add(t);
        out[p ? `${p}.${n}` : n] = t;
      }
      for (const [n, c] of m.children) walk(c, p ? `${p}.${n}` : n);
    };
    walk(this, prefix);
    return out;
  }

  parameters(): Tensor[] {
    return Object.values(this.namedParameters());
  }

  namedBuffers(prefix = ""): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    for (const [name, m] of this.namedModules(prefix)) for (const [n, t] of m.buffers) out[name ? `${name}.${n}` : n] = t;
    return out;
  }

  /** Parameters and buffers by name: what `saveSafetensors` writes. */
  stateDict(): Record<string, Tensor> {
    return { ...this.namedParameters(), ...this.namedBuffers() };
  }

  /**
   * Copies values into the parameters and buffers. With `strict` (default), missing and
   * unexpected keys are an error; shapes must match. Nothing is written unless all checks pass.
   */
  loadStateDict(state: Record<string, Tensor>, opts: { strict?: boolean } = {}): { missing: string[]; unexpected: string[] } {
    const own = this.stateDict();
    const missing = Object.keys(own).filter((k) => !(k in state));
    const unexpected = Object.keys(state).filter((k) => !(k in own));
    if ((opts.strict ?? true) && (missing.length || unexpected.length)) {
      fail("loadStateDict", `missing keys [${missing.join(", ")}]; unexpected keys [${unexpected.join(", ")}]`);
    }
    for (const [k, t] of Object.entries(own)) {
      const v = state[k];
      if (v && !shapesEqual(v.shape, t.shape)) fail("loadStateDict", `'${k}' has shape ${fmtShape(v.shape)} but the module expects ${fmtShape(t.shape)}`);
    }
    for (const [k, t] of Object.entries(own)) if (state[k]) assign(t, state[k]);
    return { missing, unexpected };
  }

  /** Sets training mode here and below (Dropout and friends read `this.training`). */
  train(mode = true): this {
    for (const m of this.namedModules().values()) m.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Frees every parameter and buffer. */
  dispose(): void {
    for (const m of this.namedModules().values()) {
      for (const t of m.params.values()) t.dispose();
      for (const t of m.buffers.values()) t.dispose();
    }
  }
}

/** An indexable list of submodules named "0", "1", ... */
export class ModuleList<M extends Module = Module> extends Module {
  private readonly items: M[] = [];
  constructor(modules: Iterable<M> = []) {
    super();
    for (const m of modules) this.push(m);
  }

  push(m: M): void {
    this.registerModule(String(this.items.length), m);
    this.items.push(m);
  }

  at(i: number): M {
    const m = this.items[i < 0 ? i + this.items.length : i];
    if (!m) fail("ModuleList", `index ${i} is out of range for ${this.items.length} modules`);
    return m;
  }

  get length(): number {
    return this.items.length;
  }

  [Symbol.iterator](): Iterator<M> {
    return this.items[Symbol.iterator]();
  }
}
