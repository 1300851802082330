/** Rotary position embeddings live in @tessera/tensor (shared with retention and the models). */
export { rope, applyRope, ropeTables, ropeInvFreq, type RopeOptions, type RopeScaling } from "@tessera/tensor";
