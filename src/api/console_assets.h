/*
 * console_assets.h — the web console's static files, compiled into vouchd
 * (build/gen/console_assets.c, made by scripts/dev/gen-console.py from
 * src/console/).  The table ends with an entry whose name is NULL.
 */
#ifndef VOUCH_API_CONSOLE_ASSETS_H
#define VOUCH_API_CONSOLE_ASSETS_H

#include <stddef.h>

struct console_asset {
    const char *name;         /* "console.js": the file's name under /ui/ */
    const char *content_type; /* with its charset for text */
    const char *etag;         /* a strong ETag, quoted */
    const unsigned char *data;
    size_t len;
};

extern const struct console_asset console_assets[];

#endif
