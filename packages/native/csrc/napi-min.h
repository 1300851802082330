/*
 * The few Node-API declarations addon.c uses, so that building needs a C compiler and nothing
 * else (no node-gyp, no downloaded headers). Node-API is ABI-stable: these signatures and enum
 * values are fixed by https://nodejs.org/api/n-api.html (version 1+); the module is found by its
 * well-known symbol napi_register_module_v1.
 */
#ifndef TESSERA_NAPI_MIN_H
#define TESSERA_NAPI_MIN_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct napi_env__ *napi_env;
typedef struct napi_value__ *napi_value;
typedef struct napi_callback_info__ *napi_callback_info;
typedef napi_value (*napi_callback)(napi_env env, napi_callback_info info);
typedef enum { napi_ok = 0 } napi_status;
typedef enum {
  napi_undefined,
  napi_null,
  napi_boolean,
  napi_number,
  napi_string,
  napi_symbol,
  napi_object,
  napi_function,
  napi_external,
  napi_bigint
} napi_valuetype;
typedef enum {
  napi_int8_array,
  napi_uint8_array,
  napi_uint8_clamped_array,
  napi_int16_array,
  napi_uint16_array,
  napi_int32_array,
  napi_uint32_array,
  napi_float32_array,
  napi_float64_array,
  napi_bigint64_array,
  napi_biguint64_array
} napi_typedarray_type;

#define NAPI_EXTERN __attribute__((visibility("default")))
NAPI_EXTERN napi_status napi_get_cb_info(napi_env env, napi_callback_info cbinfo, size_t *argc, napi_value *argv, napi_value *this_arg, void **data);
NAPI_EXTERN napi_status napi_typeof(napi_env env, napi_value value, napi_valuetype *result);
NAPI_EXTERN napi_status napi_is_typedarray(napi_env env, napi_value value, bool *result);
NAPI_EXTERN napi_status napi_get_typedarray_info(napi_env env, napi_value typedarray, napi_typedarray_type *type, size_t *length, void **data,
                                                 napi_value *arraybuffer, size_t *byte_offset);
NAPI_EXTERN napi_status napi_get_value_double(napi_env env, napi_value value, double *result);
NAPI_EXTERN napi_status napi_get_value_bool(napi_env env, napi_value value, bool *result);
NAPI_EXTERN napi_status napi_get_value_string_utf8(napi_env env, napi_value value, char *buf, size_t bufsize, size_t *result);
NAPI_EXTERN napi_status napi_get_undefined(napi_env env, napi_value *result);
NAPI_EXTERN napi_status napi_get_boolean(napi_env env, bool value, napi_value *result);
NAPI_EXTERN napi_status napi_create_int32(napi_env env, int32_t value, napi_value *result);
NAPI_EXTERN napi_status napi_create_string_utf8(napi_env env, const char *str, size_t length, napi_value *result);
NAPI_EXTERN napi_status napi_create_object(napi_env env, napi_value *result);
NAPI_EXTERN napi_status napi_create_function(napi_env env, const char *utf8name, size_t length, napi_callback cb, void *data, napi_value *result);
NAPI_EXTERN napi_status napi_set_named_property(napi_env env, napi_value object, const char *utf8name, napi_value value);
NAPI_EXTERN napi_status napi_throw_type_error(napi_env env, const char *code, const char *msg);
NAPI_EXTERN napi_status napi_throw_range_error(napi_env env, const char *code, const char *msg);
NAPI_EXTERN napi_status napi_throw_error(napi_env env, const char *code, const char *msg);
NAPI_EXTERN napi_status napi_add_env_cleanup_hook(napi_env env, void (*fun)(void *arg), void *arg); /* Node-API 3 */
#endif
