/*
 * The Node-API surface of the addon (the TypeScript wrapper in src/ checks arguments first; these
 * checks are the last line: nothing is read or written outside the arrays passed in).
 *   matmul(a, b, c, M, N, K, transB, bias | null)  c [M, N] = a [M, K] b (+ bias); b [K, N], or
 *                                                  with transB the transpose of [N, K]
 *   unary(op, x, out)                  out = op(x): 0 exp, 1 sigmoid, 2 silu, 3 gelu, 4 tanh,
 *                                      5 gelu (tanh form); out the same length, or x itself
 *   binary(op, a, b, out)              out = a op b[i % b.length]: 0 add, 1 sub, 2 mul, 3 div
 *   rows(op, x, out, rows, D, weight | null, bias | null, eps)
 *                                      row-wise over x [rows, D]: 0 softmax, 1 log-softmax,
 *                                      2 LayerNorm, 3 RMSNorm (weight, bias [D]); out x or apart
 *   copy(src, srcOffset, dst, dstOffset, layout)
 *                                      dst[i] = src[i] over a shape: layout is a Float64Array
 *                                      [rank, ...shape, ...srcStrides, ...dstStrides] (elements)
 *   attention(q, k, v, out, lse, kbias | null, slopes | null, layout)
 *                                      the fused attention forward (attention.h): layout is a
 *                                      Float64Array [B, H, Hkv, Tq, Tk, D, Dv, then offset and
 *                                      batch / head / row strides of q, k, v and out (4 each),
 *                                      causal, window, left, right, zeroMasked, scale, cap];
 *                                      lse [B*H, Tq] dense
 *   info() -> { isa, isas, threads }   setThreads(n)   setIsa(name | null) -> boolean
 *   setSpinFlag(int32Array | null)     the shared int of the process's thread pools (pool.h);
 *                                      the caller keeps the array alive while it is set
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include "attention.h"
#include "copy.h"
#include "elementwise.h"
#include "gemm.h"
#include "napi-min.h"
#include "pool.h"

#define MAX_ARGS 8

static napi_value undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

static napi_value fail(napi_env env, int range, const char *msg) {
  if (range) napi_throw_range_error(env, "ERR_TESSERA_NATIVE", msg);
  else napi_throw_type_error(env, "ERR_TESSERA_NATIVE", msg);
  return NULL;
}

/* A typed array argument of type `want`: its data (byte offset applied) and length; 0 when it is not one. */
static int typed(napi_env env, napi_value v, napi_typedarray_type want, void **data, size_t *length) {
  bool is = false;
  napi_typedarray_type type;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return 0;
  return napi_get_typedarray_info(env, v, &type, length, data, NULL, NULL) == napi_ok && type == want;
}

/* A Float32Array argument: its data and length; 0 when it is not one. */
static int floats(napi_env env, napi_value v, float **data, size_t *length) { return typed(env, v, napi_float32_array, (void **)data, length); }

/* A whole number in [0, 2^31) argument; -1 when it is not one. */
static int32_t dim(napi_env env, napi_value v) {
  double d;
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number || napi_get_value_double(env, v, &d) != napi_ok) return -1;
  if (!(d >= 0 && d < 2147483648.0) || floor(d) != d) return -1;
  return (int32_t)d;
}

static int overlaps(const float *p, size_t n, const float *q, size_t m) { return p < q + m && q < p + n; }

static napi_value js_matmul(napi_env env, napi_callback_info info) {
  size_t argc = MAX_ARGS;
  napi_value argv[MAX_ARGS];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 8) return fail(env, 0, "matmul: expected (a, b, c, M, N, K, transB, bias)");
  float *a, *b, *c, *bias = NULL;
  size_t na, nb, nc, nbias = 0;
  if (!floats(env, argv[0], &a, &na)) return fail(env, 0, "matmul: a must be a Float32Array");
  if (!floats(env, argv[1], &b, &nb)) return fail(env, 0, "matmul: b must be a Float32Array");
  if (!floats(env, argv[2], &c, &nc)) return fail(env, 0, "matmul: c must be a Float32Array");
  const int32_t M = dim(env, argv[3]), N = dim(env, argv[4]), K = dim(env, argv[5]);
  if (M < 0 || N < 0 || K < 0) return fail(env, 1, "matmul: M, N and K must be whole numbers in [0, 2^31)");
  /* the kernels step through rows and columns in int by up to a tile (192) past the end */
  if (M > (1 << 30) || N > (1 << 30) || K > (1 << 30)) return fail(env, 1, "matmul: M, N and K must be at most 2^30");
  bool transB = false;
  if (napi_get_value_bool(env, argv[6], &transB) != napi_ok) return fail(env, 0, "matmul: transB must be a boolean");
  napi_valuetype bt = napi_undefined;
  if (napi_typeof(env, argv[7], &bt) != napi_ok) return fail(env, 0, "matmul: bias must be a Float32Array or null");
  if (bt != napi_null && bt != napi_undefined && !floats(env, argv[7], &bias, &nbias)) return fail(env, 0, "matmul: bias must be a Float32Array or null");
  char msg[256];
  const uint64_t mk = (uint64_t)M * K, kn = (uint64_t)K * N, mn = (uint64_t)M * N;
  if (na < mk || nb < kn || nc < mn || (bias && nbias < (uint64_t)N)) {
    snprintf(msg, sizeof msg, "matmul: arrays too short for M=%d N=%d K=%d: a %zu (needs %llu), b %zu (needs %llu), c %zu (needs %llu)%s", M, N, K, na,
             (unsigned long long)mk, nb, (unsigned long long)kn, nc, (unsigned long long)mn, bias && nbias < (uint64_t)N ? ", bias shorter than N" : "");
    return fail(env, 1, msg);
  }
  if (overlaps(c, mn, a, mk) || overlaps(c, mn, b, kn) || (bias && overlaps(c, mn, bias, N))) return fail(env, 1, "matmul: c must not overlap a, b or bias");
  if (tn_matmul(a, b, c, M, N, K, transB, bias) != 0) {
    napi_throw_error(env, "ERR_TESSERA_NATIVE_MEMORY", "matmul: could not allocate scratch memory");
    return NULL;
  }
  return undefined(env);
}

/* Element-wise output: as long as the input and either it or apart from the inputs. */
static int ew_out_ok(const float *out, size_t nout, const float *x, size_t n) { return nout == n && (out == x || !overlaps(out, n, x, n)); }

static int32_t op_code(napi_env env, napi_value v, int count) {
  const int32_t op = dim(env, v);
  return op >= 0 && op < count ? op : -1;
}

static napi_value js_unary(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3) return fail(env, 0, "unary: expected (op, x, out)");
  const int32_t op = op_code(env, argv[0], TN_UNARY_OPS);
  if (op < 0) return fail(env, 1, "unary: op must be a code in [0, 6)");
  float *x, *out;
  size_t n, nout;
  if (!floats(env, argv[1], &x, &n) || !floats(env, argv[2], &out, &nout)) return fail(env, 0, "unary: x and out must be Float32Arrays");
  if (!ew_out_ok(out, nout, x, n)) return fail(env, 1, "unary: out must have x's length and be x itself or not overlap it");
  tn_unary(op, x, out, n);
  return undefined(env);
}

/* An optional Float32Array argument (null or undefined: *data NULL); 0 when it is something else. */
static int optional_floats(napi_env env, napi_value v, float **data, size_t *length) {
  napi_valuetype t = napi_undefined;
  if (napi_typeof(env, v, &t) != napi_ok) return 0;
  *data = NULL, *length = 0;
  return t == napi_null || t == napi_undefined || floats(env, v, data, length);
}

static napi_value js_rows(napi_env env, napi_callback_info info) {
  size_t argc = MAX_ARGS;
  napi_value argv[MAX_ARGS];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 8) return fail(env, 0, "rows: expected (op, x, out, rows, D, weight, bias, eps)");
  const int32_t op = op_code(env, argv[0], TN_ROW_OPS);
  if (op < 0) return fail(env, 1, "rows: op must be a code in [0, 4)");
  float *x, *out, *w, *b;
  size_t nx, nout, nw, nb;
  if (!floats(env, argv[1], &x, &nx) || !floats(env, argv[2], &out, &nout)) return fail(env, 0, "rows: x and out must be Float32Arrays");
  const int32_t rows = dim(env, argv[3]), D = dim(env, argv[4]);
  char msg[200];
  if (rows < 0 || D < 0) return fail(env, 1, "rows: rows and D must be whole numbers in [0, 2^31)");
  if (!optional_floats(env, argv[5], &w, &nw) || !optional_floats(env, argv[6], &b, &nb)) return fail(env, 0, "rows: weight and bias must be Float32Arrays or null");
  double eps;
  if (napi_get_value_double(env, argv[7], &eps) != napi_ok || !(eps >= 0 && eps <= FLT_MAX)) return fail(env, 1, "rows: eps must be a number in [0, 3.4e38] (a float32)");
  const uint64_t n = (uint64_t)rows * (uint64_t)D;
  if (nx < n || nout < n || (w && nw < (size_t)D) || (b && nb < (size_t)D)) {
    snprintf(msg, sizeof msg, "rows: arrays too short for [%d, %d]: x %zu, out %zu (need %llu), weight %zu, bias %zu (need %d)", rows, D, nx, nout, (unsigned long long)n, nw, nb, D);
    return fail(env, 1, msg);
  }
  if (op < 2 && (w || b)) return fail(env, 1, "rows: softmax takes no weight or bias");
  if (op == 3 && b) return fail(env, 1, "rows: RMSNorm takes no bias");
  if (out != x && overlaps(out, n, x, n)) return fail(env, 1, "rows: out must be x itself or not overlap it");
  if ((w && overlaps(out, n, w, D)) || (b && overlaps(out, n, b, D))) return fail(env, 1, w && overlaps(out, n, w, D) ? "rows: out must not overlap weight" : "rows: out must not overlap bias");
  tn_row_op(op, x, out, (size_t)rows, (size_t)D, w, b, (float)eps);
  return undefined(env);
}

static napi_value js_binary(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 4) return fail(env, 0, "binary: expected (op, a, b, out)");
  const int32_t op = op_code(env, argv[0], TN_BINARY_OPS);
  if (op < 0) return fail(env, 1, "binary: op must be a code in [0, 4)");
  float *a, *b, *out;
  size_t n, nb, nout;
  if (!floats(env, argv[1], &a, &n) || !floats(env, argv[2], &b, &nb) || !floats(env, argv[3], &out, &nout))
    return fail(env, 0, "binary: a, b and out must be Float32Arrays");
  if (nb == 0 ? n != 0 : n % nb != 0) return fail(env, 1, "binary: b's length must divide a's (b repeated along a)");
  // out may be a, or b when b is as long as a (a repeated b would be overwritten before its last use)
  if (!ew_out_ok(out, nout, a, n) || ((out != b || nb != n) && overlaps(out, nout, b, nb)))
    return fail(env, 1, "binary: out must have a's length and be a, or b when b is as long, or not overlap them");
  tn_binary(op, a, b, nb, out, n);
  return undefined(env);
}

/*
 * Whether a strided walk over `shape` from `off` stays in [0, n): the lowest and highest element
 * are checked after each dim (each term |(shape - 1) stride| < 2^62, so the sums cannot wrap).
 */
static int inside(int64_t off, int rank, const int64_t *shape, const int64_t *strides, int64_t n, int64_t *lo, int64_t *hi) {
  *lo = *hi = off;
  if (off < 0 || off >= n) return 0;
  for (int d = 0; d < rank; d++) {
    const int64_t reach = (shape[d] - 1) * strides[d];
    if (reach < 0) *lo += reach;
    else *hi += reach;
    if (*lo < 0 || *hi >= n) return 0;
  }
  return 1;
}

static napi_value js_copy(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 5) return fail(env, 0, "copy: expected (src, srcOffset, dst, dstOffset, layout)");
  float *src, *dst;
  size_t ns, nd, nl = 0;
  if (!floats(env, argv[0], &src, &ns) || !floats(env, argv[2], &dst, &nd)) return fail(env, 0, "copy: src and dst must be Float32Arrays");
  const int32_t so = dim(env, argv[1]), dofs = dim(env, argv[3]);
  if (so < 0 || dofs < 0) return fail(env, 1, "copy: offsets must be whole numbers in [0, 2^31)");
  double *layout = NULL;
  if (!typed(env, argv[4], napi_float64_array, (void **)&layout, &nl) || nl < 1)
    return fail(env, 0, "copy: layout must be a Float64Array [rank, ...shape, ...srcStrides, ...dstStrides]");
  const double rank_d = layout[0];
  if (!(rank_d >= 0 && rank_d <= TN_COPY_MAX_RANK) || floor(rank_d) != rank_d || nl != 1 + 3 * (size_t)rank_d) return fail(env, 1, "copy: layout holds a rank in [0, 16] and 3 x rank numbers after it");
  const int rank = (int)rank_d;
  int64_t shape[TN_COPY_MAX_RANK], ss[TN_COPY_MAX_RANK], ds[TN_COPY_MAX_RANK];
  uint64_t total = 1;
  for (int d = 0; d < rank; d++) {
    const double sh = layout[1 + d], a = layout[1 + rank + d], b = layout[1 + 2 * rank + d];
    if (!(sh >= 0 && sh < 2147483648.0) || floor(sh) != sh || !(fabs(a) < 2147483648.0) || floor(a) != a || !(fabs(b) < 2147483648.0) || floor(b) != b)
      return fail(env, 1, "copy: shape must hold whole numbers in [0, 2^31) and strides whole numbers in (-2^31, 2^31)");
    shape[d] = (int64_t)sh, ss[d] = (int64_t)a, ds[d] = (int64_t)b;
    total *= (uint64_t)shape[d];
  }
  if (total == 0) return undefined(env);
  int64_t slo, shi, dlo, dhi;
  if (!inside(so, rank, shape, ss, (int64_t)ns, &slo, &shi) || !inside(dofs, rank, shape, ds, (int64_t)nd, &dlo, &dhi))
    return fail(env, 1, "copy: the layout reaches outside src or dst");
  if (overlaps(src + slo, (size_t)(shi - slo + 1), dst + dlo, (size_t)(dhi - dlo + 1))) return fail(env, 1, "copy: src and dst must not overlap");
  tn_copy_strided(src + so, dst + dofs, rank, shape, ss, ds);
  return undefined(env);
}

#define ATTN_INTS 28
#define ATTN_LAYOUT 30

/* Floats an operand's rows reach from its array's start (dims B x heads x T rows of width w); 0 when empty. */
static uint64_t reach(const int64_t *o, int64_t B, int64_t heads, int64_t T, int64_t w) {
  if (B == 0 || heads == 0 || T == 0 || w == 0) return 0;
  return (uint64_t)o[0] + (uint64_t)(B - 1) * (uint64_t)o[1] + (uint64_t)(heads - 1) * (uint64_t)o[2] + (uint64_t)(T - 1) * (uint64_t)o[3] + (uint64_t)w;
}

static napi_value js_attention(napi_env env, napi_callback_info info) {
  size_t argc = MAX_ARGS;
  napi_value argv[MAX_ARGS];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 8) return fail(env, 0, "attention: expected (q, k, v, out, lse, kbias, slopes, layout)");
  float *q, *k, *v, *out, *lse, *kb, *sl;
  size_t nq, nk, nv, nout, nlse, nkb, nsl, nl = 0;
  if (!floats(env, argv[0], &q, &nq) || !floats(env, argv[1], &k, &nk) || !floats(env, argv[2], &v, &nv) || !floats(env, argv[3], &out, &nout) ||
      !floats(env, argv[4], &lse, &nlse))
    return fail(env, 0, "attention: q, k, v, out and lse must be Float32Arrays");
  if (!optional_floats(env, argv[5], &kb, &nkb) || !optional_floats(env, argv[6], &sl, &nsl)) return fail(env, 0, "attention: kbias and slopes must be Float32Arrays or null");
  double *L = NULL;
  if (!typed(env, argv[7], napi_float64_array, (void **)&L, &nl) || nl != ATTN_LAYOUT)
    return fail(env, 0, "attention: layout must be a Float64Array of 30 numbers");
  /* every size, offset, stride and flag a whole number in [0, 2^30]: int positions and band ends cannot overflow */
  int64_t n[ATTN_INTS];
  for (int i = 0; i < ATTN_INTS; i++) {
    if (!(L[i] >= 0 && L[i] <= 1073741824.0) || floor(L[i]) != L[i]) return fail(env, 1, "attention: layout's first 28 numbers must be whole numbers in [0, 2^30]");
    n[i] = (int64_t)L[i];
  }
  const int64_t B = n[0], H = n[1], Hkv = n[2], Tq = n[3], Tk = n[4], D = n[5], Dv = n[6];
  const int64_t *qo = n + 7, *ko = n + 11, *vo = n + 15, *oo = n + 19;
  const float scale = (float)L[28], cap = (float)L[29];
  if (!isfinite(scale) || !(cap >= 0 && isfinite(cap))) return fail(env, 1, "attention: scale must be finite and cap finite and >= 0");
  if (Hkv == 0 ? H != 0 : H % Hkv != 0) return fail(env, 1, "attention: H must be a multiple of Hkv");
  /* each factor is at most 2^30: B * H first (at most 2^60), then with Tq only once that is small */
  if (B * H > (1 << 30) || B * H * Tq > (1 << 30)) return fail(env, 1, "attention: B * H * Tq must be at most 2^30");
  if (B * Hkv * Tk > ((int64_t)1 << 40)) return fail(env, 1, "attention: B * Hkv * Tk must be at most 2^40");
  const uint64_t need_q = reach(qo, B, H, Tq, D), need_k = reach(ko, B, Hkv, Tk, D), need_v = reach(vo, B, Hkv, Tk, Dv), need_out = reach(oo, B, H, Tq, Dv);
  const uint64_t need_lse = (uint64_t)(B * H * Tq);
  char msg[320];
  if (nq < need_q || nk < need_k || nv < need_v || nout < need_out || nlse < need_lse || (kb && nkb < (uint64_t)(B * Tk)) || (sl && nsl < (uint64_t)H)) {
    snprintf(msg, sizeof msg,
             "attention: arrays too short for B=%lld H=%lld Hkv=%lld Tq=%lld Tk=%lld D=%lld Dv=%lld and the layout: q %zu (needs %llu), k %zu (needs %llu), v %zu (needs %llu), out %zu (needs %llu), lse %zu (needs %llu)%s%s",
             (long long)B, (long long)H, (long long)Hkv, (long long)Tq, (long long)Tk, (long long)D, (long long)Dv, nq, (unsigned long long)need_q, nk,
             (unsigned long long)need_k, nv, (unsigned long long)need_v, nout, (unsigned long long)need_out, nlse, (unsigned long long)need_lse,
             kb && nkb < (uint64_t)(B * Tk) ? ", kbias shorter than B*Tk" : "", sl && nsl < (uint64_t)H ? ", slopes shorter than H" : "");
    return fail(env, 1, msg);
  }
  /* out and lse written; every input read: the spans [offset, reach) must not meet */
  const float *out_lo = out + (need_out ? oo[0] : 0);
  const size_t out_n = need_out ? (size_t)(need_out - (uint64_t)oo[0]) : 0;
  const struct {
    const float *p;
    size_t n;
  } inputs[] = {{q + (need_q ? qo[0] : 0), need_q ? (size_t)(need_q - (uint64_t)qo[0]) : 0},
                {k + (need_k ? ko[0] : 0), need_k ? (size_t)(need_k - (uint64_t)ko[0]) : 0},
                {v + (need_v ? vo[0] : 0), need_v ? (size_t)(need_v - (uint64_t)vo[0]) : 0},
                {kb, kb ? (size_t)(B * Tk) : 0},
                {sl, sl ? (size_t)H : 0}};
  for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++)
    if (inputs[i].p && inputs[i].n && (overlaps(out_lo, out_n, inputs[i].p, inputs[i].n) || overlaps(lse, need_lse, inputs[i].p, inputs[i].n)))
      return fail(env, 1, "attention: out and lse must not overlap the inputs");
  if (overlaps(out_lo, out_n, lse, need_lse)) return fail(env, 1, "attention: out and lse must not overlap");
  const tn_attn_problem p = {(int)B, (int)H, (int)Hkv, (int)Tq, (int)Tk, (int)D, (int)Dv, n[23] != 0, n[24] != 0, (int)n[25], (int)n[26], n[27] != 0, scale, cap,
                             {q + qo[0], (size_t)qo[1], (size_t)qo[2], (size_t)qo[3]},
                             {k + ko[0], (size_t)ko[1], (size_t)ko[2], (size_t)ko[3]},
                             {v + vo[0], (size_t)vo[1], (size_t)vo[2], (size_t)vo[3]},
                             out + oo[0], (size_t)oo[1], (size_t)oo[2], (size_t)oo[3], lse, kb, sl};
  if (tn_attention(&p) != 0) {
    napi_throw_error(env, "ERR_TESSERA_NATIVE_MEMORY", "attention: could not allocate scratch memory");
    return NULL;
  }
  return undefined(env);
}

static void set_string(napi_env env, napi_value obj, const char *key, const char *value) {
  napi_value v;
  napi_create_string_utf8(env, value, (size_t)-1, &v);
  napi_set_named_property(env, obj, key, v);
}

static napi_value js_info(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value obj, n;
  napi_create_object(env, &obj);
  set_string(env, obj, "isa", tn_isa());
  set_string(env, obj, "isas", tn_isas());
  napi_create_int32(env, tn_threads(), &n);
  napi_set_named_property(env, obj, "threads", n);
  return obj;
}

static napi_value js_set_threads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  const int32_t n = argc < 1 ? -1 : dim(env, argv[0]);
  if (n < 1 || n > 64) return fail(env, 1, "setThreads: expected a whole number in [1, 64]");
  tn_set_threads(n);
  return undefined(env);
}

static napi_value js_set_isa(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_valuetype t = napi_undefined;
  if (argc >= 1) napi_typeof(env, argv[0], &t);
  int ok;
  if (t == napi_null || t == napi_undefined) ok = tn_set_isa(NULL);
  else if (t == napi_string) {
    char name[32];
    size_t len = 0;
    napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len);
    ok = tn_set_isa(name);
  } else return fail(env, 0, "setIsa: expected an instruction set's name or null");
  napi_get_boolean(env, ok, &result);
  return result;
}

/*
 * The env whose shared int the pool writes (the first to set one: the main thread's); cleared
 * when that env is torn down, so the pool never writes into a freed buffer. Another env (a
 * worker thread's) cannot replace it.
 */
static napi_env flag_env;

static void forget_flag(void *arg) {
  (void)arg;
  tn_lock(); /* no job in flight */
  pool_set_spin_flag(NULL);
  tn_unlock();
  /* a spinning worker that loaded the old pointer just before reads it within nanoseconds: wait
     well past that before the env (and the buffer) goes */
  const struct timespec ms = {0, 1000000};
  nanosleep(&ms, NULL);
  flag_env = NULL;
}

static napi_value js_set_spin_flag(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_valuetype t = napi_undefined;
  if (argc >= 1) napi_typeof(env, argv[0], &t);
  if (flag_env && flag_env != env) return undefined(env); /* another env's flag is in use: kept */
  if (t == napi_null || t == napi_undefined) {
    if (flag_env) pool_set_spin_flag(NULL);
    return undefined(env);
  }
  size_t length = 0;
  void *data = NULL;
  if (!typed(env, argv[0], napi_int32_array, &data, &length) || length < 1)
    return fail(env, 0, "setSpinFlag: expected an Int32Array of at least one element, or null");
  tn_lock(); /* no job is running while the pointer changes */
  pool_set_spin_flag((int *)data);
  tn_unlock();
  if (!flag_env) {
    flag_env = env;
    napi_add_env_cleanup_hook(env, forget_flag, NULL);
  }
  return undefined(env);
}

static void export_fn(napi_env env, napi_value exports, const char *name, napi_callback cb) {
  napi_value fn;
  napi_create_function(env, name, (size_t)-1, cb, NULL, &fn);
  napi_set_named_property(env, exports, name, fn);
}

NAPI_EXTERN napi_value napi_register_module_v1(napi_env env, napi_value exports) {
  export_fn(env, exports, "matmul", js_matmul);
  export_fn(env, exports, "unary", js_unary);
  export_fn(env, exports, "binary", js_binary);
  export_fn(env, exports, "rows", js_rows);
  export_fn(env, exports, "copy", js_copy);
  export_fn(env, exports, "attention", js_attention);
  export_fn(env, exports, "info", js_info);
  export_fn(env, exports, "setThreads", js_set_threads);
  export_fn(env, exports, "setIsa", js_set_isa);
  export_fn(env, exports, "setSpinFlag", js_set_spin_flag);
  return exports;
}

/* Node-API version 8 suffices (Node 12.22+); Node reads this to know what the module expects. */
NAPI_EXTERN int32_t node_api_module_get_api_version_v1(void) { return 8; }
