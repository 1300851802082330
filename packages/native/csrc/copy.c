/*
 * Strided copies of float32 values: dst[index] = src[index] for every index of a shape, each
 * side with its own strides (elements, possibly negative or zero). Gathers a view into dense
 * storage (a transposed or split tensor made contiguous) and scatters into one (a KV-cache
 * append). Adjacent dims that are one run on both sides are merged first; unit-stride rows go
 * through memcpy.
 */
#include "copy.h"
#include <string.h>

#define MAX_RANK 16

static void copy_dims(const float *src, float *dst, int rank, const int64_t *shape, const int64_t *ss, const int64_t *ds) {
  if (rank == 1) {
    const int64_t n = shape[0], s = ss[0], d = ds[0];
    if (s == 1 && d == 1) memcpy(dst, src, (size_t)n * 4);
    else
      for (int64_t i = 0; i < n; i++) dst[i * d] = src[i * s];
    return;
  }
  for (int64_t i = 0; i < shape[0]; i++) copy_dims(src + i * ss[0], dst + i * ds[0], rank - 1, shape + 1, ss + 1, ds + 1);
}

void tn_copy_strided(const float *src, float *dst, int rank, const int64_t *shape_in, const int64_t *ss_in, const int64_t *ds_in) {
  int64_t shape[MAX_RANK], ss[MAX_RANK], ds[MAX_RANK];
  int r = 0;
  for (int d = 0; d < rank; d++) {
    if (shape_in[d] == 0) return;
    if (shape_in[d] == 1) continue; /* a size-1 dim moves nothing */
    if (r > 0 && ss[r - 1] == ss_in[d] * shape_in[d] && ds[r - 1] == ds_in[d] * shape_in[d]) {
      /* one run with the dim before on both sides: merge */
      shape[r - 1] *= shape_in[d];
      ss[r - 1] = ss_in[d];
      ds[r - 1] = ds_in[d];
      continue;
    }
    shape[r] = shape_in[d], ss[r] = ss_in[d], ds[r] = ds_in[d];
    r++;
  }
  if (r == 0) {
    dst[0] = src[0];
    return;
  }
  copy_dims(src, dst, r, shape, ss, ds);
}
