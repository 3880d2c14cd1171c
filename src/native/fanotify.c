/*
 * The fanotify syscalls a filesystem-wide watcher needs, and nothing more:
 * create a group, mark a filesystem, and turn directory handles (what a
 * FAN_REPORT_DFID_NAME group reports instead of paths) back into paths, and
 * an object's handle into its inode.
 * Reading the group's fd is the same raw byte stream as inotify's (start/stop
 * in inotify.c); decoding the records lives in TypeScript (src/native/fanotify.ts).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <node_api.h>

#include "native.h"

/* A handle's bytes as fanotify reports them: struct file_handle (u32 handle_bytes, i32 handle_type, f_handle[]). */
#define HANDLE_MAX (sizeof(struct file_handle) + MAX_HANDLE_SZ)

static int get_buffer(napi_env env, napi_value v, void **data, size_t *len) {
  bool is;
  if (napi_is_buffer(env, v, &is) != napi_ok || !is) {
    napi_throw_type_error(env, NULL, "syncward native: expected a Buffer");
    return -1;
  }
  return napi_get_buffer_info(env, v, data, len) == napi_ok ? 0 : -1;
}

char *sw_path_of(napi_env env, napi_value v) {
  void *data;
  size_t len;
  if (get_buffer(env, v, &data, &len) != 0) return NULL;
  char *path = malloc(len + 1);
  if (path == NULL) {
    sw_throw_errno(env, "path", ENOMEM);
    return NULL;
  }
  memcpy(path, data, len);
  path[len] = '\0';
  return path;
}

/* fanInit(flags, eventFlags) -> fd */
static napi_value js_fan_init(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint32_t flags, event_flags;
  CHECK(napi_get_value_uint32(env, argv[0], &flags));
  CHECK(napi_get_value_uint32(env, argv[1], &event_flags));
  int fd = fanotify_init(flags, event_flags);
  if (fd < 0) return sw_throw_errno(env, "fanotify_init", errno);
  napi_value result;
  CHECK(napi_create_int32(env, fd, &result));
  return result;
}

/* fanMark(fd, flags, mask, pathBuffer): the mask is a Number (fanotify's bits used here fit in 32). */
static napi_value js_fan_mark(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  uint32_t flags;
  double mask;
  CHECK(napi_get_value_int32(env, argv[0], &fd));
  CHECK(napi_get_value_uint32(env, argv[1], &flags));
  CHECK(napi_get_value_double(env, argv[2], &mask));
  char *path = sw_path_of(env, argv[3]);
  if (path == NULL) return NULL;
  int rc = fanotify_mark(fd, flags, (uint64_t)mask, AT_FDCWD, path);
  int err = errno;
  free(path);
  if (rc != 0) return sw_throw_errno(env, "fanotify_mark", err);
  return NULL;
}

/* handleOf(pathBuffer) -> {handle: Buffer, mountId}: the path's file handle, in fanotify's layout (name_to_handle_at). */
static napi_value js_handle_of(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char *path = sw_path_of(env, argv[0]);
  if (path == NULL) return NULL;
  struct file_handle *fh = calloc(1, HANDLE_MAX);
  if (fh == NULL) {
    free(path);
    return sw_throw_errno(env, "name_to_handle_at", ENOMEM);
  }
  fh->handle_bytes = MAX_HANDLE_SZ;
  int mount_id = 0;
  int rc = name_to_handle_at(AT_FDCWD, path, fh, &mount_id, 0);
  int err = errno;
  free(path);
  if (rc != 0) {
    free(fh);
    return sw_throw_errno(env, "name_to_handle_at", err);
  }
  napi_value result, handle, mount;
  void *copy;
  napi_status st = napi_create_buffer_copy(env, sizeof(struct file_handle) + fh->handle_bytes, fh, &copy, &handle);
  free(fh);
  CHECK(st);
  CHECK(napi_create_object(env, &result));
  CHECK(napi_create_int32(env, mount_id, &mount));
  CHECK(napi_set_named_property(env, result, "handle", handle));
  CHECK(napi_set_named_property(env, result, "mountId", mount));
  return result;
}

/*
 * Opens what a handle names (O_PATH: no open event, any file type). Returns
 * the fd; -1 when it is gone (ESTALE, or unlinked), with the null to return
 * in *gone; -2 when an exception is pending. Needs CAP_DAC_READ_SEARCH.
 */
static int open_handle(napi_env env, napi_callback_info info, napi_value *gone) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return -2;
  int32_t mount_fd;
  void *data;
  size_t len;
  if (napi_get_value_int32(env, argv[0], &mount_fd) != napi_ok) return -2;
  if (get_buffer(env, argv[1], &data, &len) != 0) return -2;
  if (napi_get_null(env, gone) != napi_ok) return -2;
  if (len < sizeof(struct file_handle) || len > HANDLE_MAX) {
    napi_throw_range_error(env, NULL, "syncward native: not a file handle");
    return -2;
  }
  struct file_handle *fh = malloc(HANDLE_MAX);
  if (fh == NULL) {
    sw_throw_errno(env, "open_by_handle_at", ENOMEM);
    return -2;
  }
  memcpy(fh, data, len);
  if (sizeof(struct file_handle) + fh->handle_bytes != len) {
    free(fh);
    napi_throw_range_error(env, NULL, "syncward native: a file handle's length does not match its handle_bytes");
    return -2;
  }
  int fd = open_by_handle_at(mount_fd, fh, O_PATH | O_CLOEXEC);
  int err = errno;
  free(fh);
  if (fd < 0) {
    if (err == ESTALE || err == ENOENT) return -1;
    sw_throw_errno(env, "open_by_handle_at", err);
    return -2;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || st.st_nlink == 0) {
    close(fd);
    return -1;
  }
  return fd;
}

/*
 * pathOfHandle(mountFd, handleBuffer) -> Buffer | null: where the handle's
 * directory is now (open_by_handle_at, then the /proc link), or null when it
 * is gone (ESTALE, or unlinked). For a file the link names one of its names,
 * or "/" when the kernel has no connected name for it in its cache.
 */
static napi_value js_path_of_handle(napi_env env, napi_callback_info info) {
  napi_value nothing;
  int fd = open_handle(env, info, &nothing);
  if (fd == -2) return NULL;
  if (fd == -1) return nothing;
  char link[64];
  char target[PATH_MAX];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, target, sizeof target);
  int err = errno;
  close(fd);
  if (n < 0) return sw_throw_errno(env, "readlink", err);
  if ((size_t)n >= sizeof target) return sw_throw_errno(env, "readlink", ENAMETOOLONG);
  napi_value result;
  void *copy;
  CHECK(napi_create_buffer_copy(env, (size_t)n, target, &copy, &result));
  return result;
}

/*
 * statOfHandle(mountFd, handleBuffer) -> {dev, ino, nlink, mode} | null: the
 * inode a handle names, found by the handle alone (its names may all be
 * elsewhere, or unknown), or null when it is gone.
 */
static napi_value js_stat_of_handle(napi_env env, napi_callback_info info) {
  napi_value nothing;
  int fd = open_handle(env, info, &nothing);
  if (fd == -2) return NULL;
  if (fd == -1) return nothing;
  struct stat st;
  int rc = fstat(fd, &st);
  int err = errno;
  close(fd);
  if (rc != 0) return sw_throw_errno(env, "fstat", err);
  napi_value result, v;
  CHECK(napi_create_object(env, &result));
  /* dev as stat(2) encodes it, as Node's lstat reports it; inode numbers stay below 2^53 */
  CHECK(napi_create_double(env, (double)st.st_dev, &v));
  CHECK(napi_set_named_property(env, result, "dev", v));
  CHECK(napi_create_double(env, (double)st.st_ino, &v));
  CHECK(napi_set_named_property(env, result, "ino", v));
  CHECK(napi_create_double(env, (double)st.st_nlink, &v));
  CHECK(napi_set_named_property(env, result, "nlink", v));
  CHECK(napi_create_uint32(env, st.st_mode, &v));
  CHECK(napi_set_named_property(env, result, "mode", v));
  return result;
}

static void set_const(napi_env env, napi_value obj, const char *name, double v) {
  napi_value value;
  napi_create_double(env, v, &value);
  napi_set_named_property(env, obj, name, value);
}

void sw_fanotify_register(napi_env env, napi_value exports) {
  napi_property_descriptor fns[] = {
      {"fanInit", NULL, js_fan_init, NULL, NULL, NULL, napi_default, NULL},
      {"fanMark", NULL, js_fan_mark, NULL, NULL, NULL, napi_default, NULL},
      {"handleOf", NULL, js_handle_of, NULL, NULL, NULL, napi_default, NULL},
      {"pathOfHandle", NULL, js_path_of_handle, NULL, NULL, NULL, napi_default, NULL},
      {"statOfHandle", NULL, js_stat_of_handle, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns);
  napi_value c;
  napi_create_object(env, &c);
  set_const(env, c, "FAN_CLASS_NOTIF", FAN_CLASS_NOTIF);
  set_const(env, c, "FAN_CLOEXEC", FAN_CLOEXEC);
  set_const(env, c, "FAN_NONBLOCK", FAN_NONBLOCK);
  set_const(env, c, "FAN_UNLIMITED_QUEUE", FAN_UNLIMITED_QUEUE);
  set_const(env, c, "FAN_REPORT_FID", FAN_REPORT_FID);
  set_const(env, c, "FAN_REPORT_DIR_FID", FAN_REPORT_DIR_FID);
  set_const(env, c, "FAN_REPORT_NAME", FAN_REPORT_NAME);
  set_const(env, c, "FAN_REPORT_TARGET_FID", FAN_REPORT_TARGET_FID);
  set_const(env, c, "FAN_MARK_ADD", FAN_MARK_ADD);
  set_const(env, c, "FAN_MARK_REMOVE", FAN_MARK_REMOVE);
  set_const(env, c, "FAN_MARK_FILESYSTEM", FAN_MARK_FILESYSTEM);
  set_const(env, c, "FAN_MARK_ONLYDIR", FAN_MARK_ONLYDIR);
  set_const(env, c, "FAN_MODIFY", FAN_MODIFY);
  set_const(env, c, "FAN_ATTRIB", FAN_ATTRIB);
  set_const(env, c, "FAN_CLOSE_WRITE", FAN_CLOSE_WRITE);
  set_const(env, c, "FAN_MOVED_FROM", FAN_MOVED_FROM);
  set_const(env, c, "FAN_MOVED_TO", FAN_MOVED_TO);
  set_const(env, c, "FAN_CREATE", FAN_CREATE);
  set_const(env, c, "FAN_DELETE", FAN_DELETE);
  set_const(env, c, "FAN_DELETE_SELF", FAN_DELETE_SELF);
  set_const(env, c, "FAN_MOVE_SELF", FAN_MOVE_SELF);
  set_const(env, c, "FAN_RENAME", FAN_RENAME);
  set_const(env, c, "FAN_Q_OVERFLOW", FAN_Q_OVERFLOW);
  set_const(env, c, "FAN_ONDIR", FAN_ONDIR);
  set_const(env, c, "FAN_EVENT_INFO_TYPE_FID", FAN_EVENT_INFO_TYPE_FID);
  set_const(env, c, "FAN_EVENT_INFO_TYPE_DFID_NAME", FAN_EVENT_INFO_TYPE_DFID_NAME);
  set_const(env, c, "FAN_EVENT_INFO_TYPE_DFID", FAN_EVENT_INFO_TYPE_DFID);
  set_const(env, c, "FAN_EVENT_INFO_TYPE_OLD_DFID_NAME", FAN_EVENT_INFO_TYPE_OLD_DFID_NAME);
  set_const(env, c, "FAN_EVENT_INFO_TYPE_NEW_DFID_NAME", FAN_EVENT_INFO_TYPE_NEW_DFID_NAME);
  set_const(env, c, "FANOTIFY_METADATA_VERSION", FANOTIFY_METADATA_VERSION);
  napi_set_named_property(env, exports, "fanotifyConstants", c);
}
