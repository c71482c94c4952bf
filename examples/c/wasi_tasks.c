/*
 * C tasks with wasi-libc: what a task linked against a libc gets from the
 * host's capability-free WASI preview1 subset (schema/ABI.md). printf goes
 * to the task's log; fopen finds no file system. Build (Debian's clang-19,
 * lld-19, wasi-libc and libclang-rt-19-dev-wasm32):
 *   clang-19 --target=wasm32-wasi --sysroot=/usr -O2 -mexec-model=reactor \
 *         -Wl,--strip-debug -I guest-sdk/c -o wasi_tasks.wasm examples/c/wasi_tasks.c
 */
#define WEFT_IMPLEMENTATION
#include "weft.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* A NUL-terminated copy of a string argument. */
static char *read_text(weft_reader *r) {
    size_t len;
    const uint8_t *bytes = weft_read_bytes(r, &len);
    char *text = weft_malloc(len + 1);
    if (len) memcpy(text, bytes, len);
    text[len] = 0;
    return text;
}

/* Prints its message and returns its length, like the Rust test kit's. */
WEFT_TASK(chatty, "message: string", "u64") {
    weft_reader r = weft_reader_new(args, args_len);
    char *message = read_text(&r);
    if (!weft_reader_finish(&r)) return weft_invalid_arguments(&r);
    printf("chatty says %s\n", message);
    fflush(stdout);
    fprintf(stderr, "and warns too\n");
    weft_writer w = weft_writer_new();
    weft_write_u64(&w, strlen(message));
    return weft_return(&w);
}

/* Tries to read the first line of a file: a task has no file system. */
WEFT_TASK(first_line, "path: string", "string") {
    weft_reader r = weft_reader_new(args, args_len);
    char *path = read_text(&r);
    if (!weft_reader_finish(&r)) return weft_invalid_arguments(&r);
    FILE *file = fopen(path, "r");
    if (!file) {
        static char message[512];
        snprintf(message, sizeof message, "cannot open %s: %s", path, strerror(errno));
        return weft_fail(message);
    }
    char line[256] = {0};
    if (!fgets(line, sizeof line, file)) line[0] = 0;
    fclose(file);
    weft_writer w = weft_writer_new();
    weft_write_bytes(&w, line, strlen(line));
    return weft_return(&w);
}
