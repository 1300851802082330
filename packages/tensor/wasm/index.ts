// The cpu backend's WASM module: every SIMD kernel (see gemm.ts and rows.ts).
export { pack_a, pack_b, pack_bt, gemm_rows } from "./gemm";
export { gemv_n, gemv_t } from "./gemv";
export { gemm_rows_bias, gemm_cols_bias, gemv_packed_claimed } from "./epilogue";
export { gemv_n_h, gemv_t_h } from "./gemv-half";
export { softmax_rows, norm_rows, unary_range } from "./rows";
export { transpose } from "./transpose";
