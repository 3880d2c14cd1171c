/* What the addon's C files share: the N-API check and errors that carry an errno. */
#ifndef SYNCWARD_NATIVE_H
#define SYNCWARD_NATIVE_H

#include <node_api.h>

#define CHECK(call)                                                            \
  do {                                                                         \
    if ((call) != napi_ok) {                                                   \
      napi_throw_error(env, NULL, "syncward native: N-API call failed: " #call); \
      return NULL;                                                             \
    }                                                                          \
  } while (0)

/* Throws an Error "<what>: <strerror>" whose code is the errno's name (ENOENT...) and errno its number; returns NULL. */
napi_value sw_throw_errno(napi_env env, const char *what, int err);

/* A NUL-terminated copy of a Buffer path (file names are bytes), to free(); NULL with an exception pending. */
char *sw_path_of(napi_env env, napi_value v);

/* Adds fanotify's functions and constants (fanotify.c) to the addon's exports. */
void sw_fanotify_register(napi_env env, napi_value exports);

#endif
