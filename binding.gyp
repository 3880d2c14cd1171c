{
  "targets": [
    {
      "target_name": "syncward_inotify",
      "sources": ["src/native/inotify.c", "src/native/fanotify.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
