/* Strided float32 copies (copy.c). */
#ifndef TESSERA_COPY_H
#define TESSERA_COPY_H
#include <stdint.h>

#define TN_COPY_MAX_RANK 16
/* dst[i] = src[i] over `shape`, src and dst already at their first element; strides in elements. */
void tn_copy_strided(const float *src, float *dst, int rank, const int64_t *shape, const int64_t *src_strides, const int64_t *dst_strides);
#endif
