/*
 * The smallest useful binding to Linux inotify: create an instance, add and
 * remove watches, and stream raw `struct inotify_event` bytes to JavaScript
 * from the libuv loop. Parsing, path bookkeeping and recursion live in
 * TypeScript (src/native/index.ts, src/watch/); this file only does what JS
 * cannot: the syscalls.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <node_api.h>
#include <uv.h>

#include "native.h"

/* One read() may return many events; 256 KiB holds ~16k short names (index.ts's DRAINED_MAX assumes this size). */
#define READ_BUF (256 * 1024)
/* Reads per wakeup before yielding to the loop (poll is level-triggered). */
#define READS_PER_WAKEUP 16

typedef struct {
  uv_poll_t poll;
  int fd;
  napi_env env;
  napi_ref callback;
  napi_async_context ctx;
  int closing;
  char *buf;
} reader_t;

napi_value sw_throw_errno(napi_env env, const char *what, int err) {
  napi_value msg, code, error;
  char text[512];
  snprintf(text, sizeof text, "%s: %s", what, strerror(err));
  const char *name = uv_err_name(-err);
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg);
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_error(env, code, msg, &error);
  napi_value errnoValue;
  napi_create_int32(env, err, &errnoValue);
  napi_set_named_property(env, error, "errno", errnoValue);
  napi_throw(env, error);
  return NULL;
}

static napi_value js_init(napi_env env, napi_callback_info info) {
  int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) return sw_throw_errno(env, "inotify_init1", errno);
  napi_value result;
  CHECK(napi_create_int32(env, fd, &result));
  return result;
}

/* addWatch(fd, pathBuffer, mask) -> wd. The path is a Buffer: file names are bytes. */
static napi_value js_add_watch(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  uint32_t mask;
  CHECK(napi_get_value_int32(env, argv[0], &fd));
  CHECK(napi_get_value_uint32(env, argv[2], &mask));
  char *path = sw_path_of(env, argv[1]);
  if (path == NULL) return NULL;
  int wd = inotify_add_watch(fd, path, mask);
  int err = errno;
  free(path);
  if (wd < 0) return sw_throw_errno(env, "inotify_add_watch", err);
  napi_value result;
  CHECK(napi_create_int32(env, wd, &result));
  return result;
}

/* rmWatch(fd, wd) -> 0 or errno (EINVAL: the kernel already dropped it). */
static napi_value js_rm_watch(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd, wd;
  CHECK(napi_get_value_int32(env, argv[0], &fd));
  CHECK(napi_get_value_int32(env, argv[1], &wd));
  int rc = inotify_rm_watch(fd, wd) < 0 ? errno : 0;
  napi_value result;
  CHECK(napi_create_int32(env, rc, &result));
  return result;
}

static void deliver(reader_t *r, const char *bytes, size_t len, int err) {
  napi_env env = r->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value cb, recv, args[2], result;
  napi_get_reference_value(env, r->callback, &cb);
  /* make_callback needs an object receiver; undefined makes it throw */
  napi_get_global(env, &recv);
  if (err != 0) {
    napi_value msg, code;
    napi_create_string_utf8(env, strerror(err), NAPI_AUTO_LENGTH, &msg);
    napi_create_string_utf8(env, uv_err_name(-err), NAPI_AUTO_LENGTH, &code);
    napi_create_error(env, code, msg, &args[0]);
    napi_get_undefined(env, &args[1]);
  } else {
    void *copy;
    napi_get_null(env, &args[0]);
    napi_create_buffer_copy(env, len, bytes, &copy, &args[1]);
  }
  /* make_callback runs microtasks afterwards, as any libuv-driven callback must */
  napi_status st = napi_make_callback(env, r->ctx, recv, cb, 2, args, &result);
  if (st == napi_pending_exception) {
    napi_value exc;
    napi_get_and_clear_last_exception(env, &exc);
    napi_fatal_exception(env, exc);
  }
  napi_close_handle_scope(env, scope);
}

static void on_readable(uv_poll_t *handle, int status, int events) {
  reader_t *r = (reader_t *)handle->data;
  if (r->closing) return;
  if (status < 0) {
    deliver(r, NULL, 0, -status);
    return;
  }
  for (int i = 0; i < READS_PER_WAKEUP && !r->closing; i++) {
    ssize_t n = read(r->fd, r->buf, READ_BUF);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) deliver(r, NULL, 0, errno);
      return;
    }
    if (n == 0) return;
    deliver(r, r->buf, (size_t)n, 0);
  }
}

static void on_closed(uv_handle_t *handle) {
  reader_t *r = (reader_t *)handle->data;
  /* stop() may run inside our own callback: the async context and the
   * callback reference are released here, after that callback returned */
  napi_delete_reference(r->env, r->callback);
  napi_async_destroy(r->env, r->ctx);
  close(r->fd);
  free(r->buf);
  free(r);
}

static void finalize_reader(napi_env env, void *data, void *hint) {
  /* The external may be collected after stop(); stop() owns the memory. */
}

/* start(fd, cb(err, Buffer)) -> handle. Reads the fd whenever the loop says it is readable. */
static napi_value js_start(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  CHECK(napi_get_value_int32(env, argv[0], &fd));
  uv_loop_t *loop;
  CHECK(napi_get_uv_event_loop(env, &loop));
  reader_t *r = calloc(1, sizeof(reader_t));
  if (r == NULL) return sw_throw_errno(env, "start", ENOMEM);
  r->buf = malloc(READ_BUF);
  if (r->buf == NULL) {
    free(r);
    return sw_throw_errno(env, "start", ENOMEM);
  }
  r->fd = fd;
  r->env = env;
  CHECK(napi_create_reference(env, argv[1], 1, &r->callback));
  napi_value name;
  CHECK(napi_create_string_utf8(env, "syncward:inotify", NAPI_AUTO_LENGTH, &name));
  CHECK(napi_async_init(env, NULL, name, &r->ctx));
  int rc = uv_poll_init(loop, &r->poll, fd);
  if (rc == 0) rc = uv_poll_start(&r->poll, UV_READABLE, on_readable);
  if (rc != 0) {
    napi_delete_reference(env, r->callback);
    napi_async_destroy(env, r->ctx);
    free(r->buf);
    free(r);
    return sw_throw_errno(env, "uv_poll_start", -rc);
  }
  r->poll.data = r;
  napi_value external;
  CHECK(napi_create_external(env, r, finalize_reader, NULL, &external));
  return external;
}

/* stop(handle): stop reading and close the inotify fd (which drops every watch). */
static napi_value js_stop(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  reader_t *r;
  CHECK(napi_get_value_external(env, argv[0], (void **)&r));
  if (r == NULL || r->closing) return NULL;
  r->closing = 1;
  uv_poll_stop(&r->poll);
  uv_close((uv_handle_t *)&r->poll, on_closed);
  return NULL;
}

/*
 * subdirs(pathBuffer, leafDev) -> Buffer: the names of the directories in a
 * directory (never a symlink to one), each followed by a NUL byte, in the
 * order readdir gives them. The watcher's walk lists every directory of the
 * tree once and needs only these: readdirSync would sort every entry and
 * build an object for each, files included. An entry whose type the
 * filesystem does not report (DT_UNKNOWN) is looked at with fstatat; one
 * gone meanwhile is left out. Throws like addWatch (code ENOENT, ENOTDIR,
 * EACCES...).
 *
 * leafDev >= 0: on that device, whose filesystem counts a directory's links
 * as 2 plus its subdirectories (the caller knows which do), a directory with
 * st_nlink 2 has none, and is not read at all: most directories of a tree
 * are leaves, and reading one costs the kernel several times a stat. The
 * caller has watched the directory before: one made in it after this stat
 * is an event.
 */
static napi_value js_subdirs(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  double leafDev = -1;
  if (argc > 1) CHECK(napi_get_value_double(env, argv[1], &leafDev));
  char *path = sw_path_of(env, argv[0]);
  if (path == NULL) return NULL;
  struct stat self;
  if (leafDev >= 0 && stat(path, &self) == 0 && S_ISDIR(self.st_mode) && self.st_nlink == 2 &&
      (double)self.st_dev == leafDev) {
    free(path);
    napi_value none;
    CHECK(napi_create_buffer_copy(env, 0, "", NULL, &none));
    return none;
  }
  DIR *dir = opendir(path);
  int err = errno;
  free(path);
  if (dir == NULL) return sw_throw_errno(env, "scandir", err);
  size_t cap = 0, used = 0;
  char *out = NULL;
  err = 0;
  for (;;) {
    errno = 0;
    struct dirent *ent = readdir(dir);
    if (ent == NULL) {
      err = errno;
      break;
    }
    const char *name = ent->d_name;
    if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'))) continue;
    if (ent->d_type != DT_DIR) {
      struct stat st;
      if (ent->d_type != DT_UNKNOWN || fstatat(dirfd(dir), name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
          !S_ISDIR(st.st_mode))
        continue;
    }
    size_t n = strlen(name) + 1;
    if (used + n > cap) {
      size_t want = cap == 0 ? 4096 : cap * 2;
      while (want < used + n) want *= 2;
      char *grown = realloc(out, want);
      if (grown == NULL) {
        err = ENOMEM;
        break;
      }
      out = grown;
      cap = want;
    }
    memcpy(out + used, name, n);
    used += n;
  }
  closedir(dir);
  if (err != 0) {
    free(out);
    return sw_throw_errno(env, "scandir", err);
  }
  napi_value result;
  napi_status st = napi_create_buffer_copy(env, used, used > 0 ? out : "", NULL, &result);
  free(out);
  CHECK(st);
  return result;
}

static void set_limit(napi_env env, napi_value obj, const char *name, rlim_t v) {
  napi_value value;
  napi_create_double(env, v == RLIM_INFINITY ? INFINITY : (double)v, &value);
  napi_set_named_property(env, obj, name, value);
}

/*
 * raiseNofileLimit() -> {soft, hard, before, errno}. Node has no setrlimit:
 * raises RLIMIT_NOFILE's soft limit to its hard limit (what an unprivileged
 * process may do), so a busy API or many rsyncs do not run out of fds under
 * a low default soft limit (1024). errno is 0, or why it could not.
 */
static napi_value js_raise_nofile_limit(napi_env env, napi_callback_info info) {
  struct rlimit lim;
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return sw_throw_errno(env, "getrlimit", errno);
  rlim_t before = lim.rlim_cur;
  int err = 0;
  if (lim.rlim_cur != lim.rlim_max) {
    struct rlimit want = {lim.rlim_max, lim.rlim_max};
    if (setrlimit(RLIMIT_NOFILE, &want) != 0) err = errno;
    if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return sw_throw_errno(env, "getrlimit", errno);
  }
  napi_value result, errValue;
  CHECK(napi_create_object(env, &result));
  set_limit(env, result, "soft", lim.rlim_cur);
  set_limit(env, result, "hard", lim.rlim_max);
  set_limit(env, result, "before", before);
  CHECK(napi_create_int32(env, err, &errValue));
  CHECK(napi_set_named_property(env, result, "errno", errValue));
  return result;
}

static void set_uint(napi_env env, napi_value obj, const char *name, uint32_t v) {
  napi_value value;
  napi_create_uint32(env, v, &value);
  napi_set_named_property(env, obj, name, value);
}

static napi_value module_init(napi_env env, napi_value exports) {
  napi_property_descriptor fns[] = {
      {"init", NULL, js_init, NULL, NULL, NULL, napi_default, NULL},
      {"addWatch", NULL, js_add_watch, NULL, NULL, NULL, napi_default, NULL},
      {"rmWatch", NULL, js_rm_watch, NULL, NULL, NULL, napi_default, NULL},
      {"start", NULL, js_start, NULL, NULL, NULL, napi_default, NULL},
      {"stop", NULL, js_stop, NULL, NULL, NULL, napi_default, NULL},
      {"raiseNofileLimit", NULL, js_raise_nofile_limit, NULL, NULL, NULL, napi_default, NULL},
      {"subdirs", NULL, js_subdirs, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns);
  napi_value c;
  napi_create_object(env, &c);
  set_uint(env, c, "IN_ACCESS", IN_ACCESS);
  set_uint(env, c, "IN_MODIFY", IN_MODIFY);
  set_uint(env, c, "IN_ATTRIB", IN_ATTRIB);
  set_uint(env, c, "IN_CLOSE_WRITE", IN_CLOSE_WRITE);
  set_uint(env, c, "IN_CLOSE_NOWRITE", IN_CLOSE_NOWRITE);
  set_uint(env, c, "IN_OPEN", IN_OPEN);
  set_uint(env, c, "IN_MOVED_FROM", IN_MOVED_FROM);
  set_uint(env, c, "IN_MOVED_TO", IN_MOVED_TO);
  set_uint(env, c, "IN_CREATE", IN_CREATE);
  set_uint(env, c, "IN_DELETE", IN_DELETE);
  set_uint(env, c, "IN_DELETE_SELF", IN_DELETE_SELF);
  set_uint(env, c, "IN_MOVE_SELF", IN_MOVE_SELF);
  set_uint(env, c, "IN_UNMOUNT", IN_UNMOUNT);
  set_uint(env, c, "IN_Q_OVERFLOW", IN_Q_OVERFLOW);
  set_uint(env, c, "IN_IGNORED", IN_IGNORED);
  set_uint(env, c, "IN_ONLYDIR", IN_ONLYDIR);
  set_uint(env, c, "IN_DONT_FOLLOW", IN_DONT_FOLLOW);
  set_uint(env, c, "IN_EXCL_UNLINK", IN_EXCL_UNLINK);
  set_uint(env, c, "IN_MASK_ADD", IN_MASK_ADD);
  set_uint(env, c, "IN_ISDIR", IN_ISDIR);
  napi_set_named_property(env, exports, "constants", c);
  sw_fanotify_register(env, exports);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, module_init)
