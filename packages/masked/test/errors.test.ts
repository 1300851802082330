import { describe, expect, it } from "vitest";
import { tensor } from "@tessera/tensor";
import { bertMask, blockwiseMask, maskedPatchLoss, maskgitDecode, maskgitSchedule, mlmLoss, randomMask, spanMask, t5SpanCorruption, tubeMask } from "../src";

describe("bad input: errors name the function and the argument", () => {
  it("generators", () => {
    expect(() => randomMask(2, 8, 1)).toThrow(/randomMask: ratio must lie in \[0, 1\)/);
    expect(() => randomMask(2, 8, -0.1)).toThrow(/randomMask: ratio/);
    expect(() => tubeMask(2, 2, 2, 1.5)).toThrow(/tubeMask: ratio/);
    expect(() => bertMask([[1, 2]], { maskTokenId: 3, vocabSize: 10, probability: 1.5 })).toThrow(/bertMask: probability must lie in \[0, 1\]/);
    expect(() => bertMask([[1, 2], [3]], { maskTokenId: 3, vocabSize: 10 })).toThrow(/bertMask: ids rows/);
    expect(() => bertMask([[1, 2]], { maskTokenId: 3, vocabSize: 0 })).toThrow(/bertMask: vocabSize/);
    expect(() => bertMask([[1, 2]], { maskTokenId: 3, vocabSize: 10, attentionMask: [[1]] })).toThrow(/bertMask: attentionMask/);
    expect(() => spanMask([[1, 2]], { maskTokenId: 3, vocabSize: 10, maxSpan: 0 })).toThrow(/spanMask: maxSpan/);
    expect(() => blockwiseMask(4, 4, { numMasked: 17 })).toThrow(/blockwiseMask: numMasked 17 exceeds/);
    expect(() => t5SpanCorruption([[1, 2, 3]], {})).toThrow(/t5SpanCorruption: give exactly one of vocabSize/);
    expect(() => t5SpanCorruption([Array.from({ length: 100 }, () => 5)], { sentinelIds: [1, 2] })).toThrow(/t5SpanCorruption: needs sentinel 2/);
    expect(() => maskgitSchedule("log")).toThrow(/maskgitSchedule: "log" needs totalTokens/);
    expect(() => maskgitSchedule("nope" as "log")).toThrow(/maskgitSchedule: kind/);
  });

  it("losses and decoding", async () => {
    expect(() => mlmLoss(tensor([[[1, 2]]]), [[1, 2]])).toThrow(/mlmLoss/);
    expect(() => maskedPatchLoss(tensor([[[1, 2]]]), tensor([[[1, 2, 3]]]), [[1]])).toThrow(/maskedPatchLoss: pred \[1,1,2\] and target/);
    const model = (ids: import("@tessera/tensor").Tensor) => tensor(new Float32Array(ids.shape[0] * ids.shape[1] * 4), { shape: [ids.shape[0], ids.shape[1], 4] });
    await expect(maskgitDecode(model, { length: 4, maskTokenId: 4, steps: 0 })).rejects.toThrow(/maskgitDecode: steps must be an integer/);
    await expect(maskgitDecode(() => tensor([1]), { length: 4, maskTokenId: 4 })).rejects.toThrow(/maskgitDecode: model returned logits \[1\]/);
  });
});
