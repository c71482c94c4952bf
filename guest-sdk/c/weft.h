/*
 * weft.h: write Weft tasks in C (or anything that links C).
 *
 * Implements the guest ABI of schema/ABI.md and the value encoding of
 * schema/ENCODING.md with no libc. In exactly one .c file of a module,
 * define WEFT_IMPLEMENTATION before including this header.
 *
 *   #define WEFT_IMPLEMENTATION
 *   #include "weft.h"
 *
 *   WEFT_TASK(add, "a: i64, b: i64", "i64") {
 *       weft_reader r = weft_reader_new(args, args_len);
 *       int64_t a = weft_read_i64(&r), b = weft_read_i64(&r);
 *       if (!weft_reader_finish(&r)) return weft_invalid_arguments(&r);
 *       weft_writer w = weft_writer_new();
 *       weft_write_i64(&w, a + b);
 *       return weft_return(&w);
 *   }
 *
 * Build:
 *   clang --target=wasm32-unknown-unknown -O2 -nostdlib -Wl,--no-entry \
 *         -I guest-sdk/c -o tasks.wasm tasks.c
 *
 * With wasi-libc (clang --target=wasm32-wasi, which defines __wasi__), the
 * header uses libc's malloc, memcpy and strlen instead of its own, and the
 * module runs on the host's capability-free WASI preview1 subset: printf
 * goes to the task's log, fopen fails. Build it as a reactor:
 *   clang-19 --target=wasm32-wasi --sysroot=/usr -O2 -mexec-model=reactor \
 *         -Wl,--strip-debug -I guest-sdk/c -o tasks.wasm tasks.c
 * (-Wl,--strip-debug, not wasm-strip, which would drop the weft_tasks
 * section.)
 *
 * WEFT_TASK(NAME, PARAMS, RESULT) records the task's signature in the
 * module's weft_tasks custom section (PARAMS and RESULT in the signature
 * language of schema/ABI.md) and exports weft_task.NAME. The function body
 * sees `const uint8_t *args` and `int32_t args_len` and returns a status.
 */
#ifndef WEFT_H
#define WEFT_H

#include <stddef.h>
#include <stdint.h>

#define WEFT_STATUS_OK 0
#define WEFT_STATUS_ERROR 1
#define WEFT_STATUS_INVALID_ARGUMENTS 2

#define WEFT_TASK(NAME, PARAMS, RESULT)                                                \
    __asm__(".section .custom_section.weft_tasks,\"\",@\n"                            \
            ".ascii \"task " #NAME "(" PARAMS ") -> " RESULT ";\\n\"\n");             \
    __attribute__((export_name("weft_task." #NAME)))                                   \
    int32_t weft_task_##NAME(const uint8_t *args, int32_t args_len)

/* Host imports (module "weft"). */
__attribute__((import_module("weft"), import_name("output")))
void weft_output(const void *ptr, size_t len);
__attribute__((import_module("weft"), import_name("abort")))
_Noreturn void weft_abort(const void *ptr, size_t len);
__attribute__((import_module("weft"), import_name("log")))
void weft_log(int32_t level, const void *ptr, size_t len);

/* Memory: a bump allocator (every call runs in a fresh instance). */
void *weft_malloc(size_t size);
size_t weft_strlen(const char *s);

/* Decoding arguments. A reader remembers its first error; reads after an
 * error return zero values. */
typedef struct {
    const uint8_t *at;
    size_t left;
    const char *error;
} weft_reader;

weft_reader weft_reader_new(const uint8_t *args, int32_t args_len);
uint8_t weft_read_u8(weft_reader *r);
int weft_read_bool(weft_reader *r);
int32_t weft_read_i32(weft_reader *r);
int64_t weft_read_i64(weft_reader *r);
uint64_t weft_read_u64(weft_reader *r);
double weft_read_f64(weft_reader *r);
/* A string or list<u8>: returns a pointer into the arguments, sets *len. */
const uint8_t *weft_read_bytes(weft_reader *r, size_t *len);
/* A list<i64> or list<f64>: returns a copy, 8-byte aligned, in one bulk
 * copy (the encoding is the memory layout), and sets *count. */
int64_t *weft_read_i64s(weft_reader *r, size_t *count);
double *weft_read_f64s(weft_reader *r, size_t *count);
/* True when every byte was read without error. */
int weft_reader_finish(weft_reader *r);

/* Encoding results. */
typedef struct {
    uint8_t *data;
    size_t len;
    size_t cap;
} weft_writer;

weft_writer weft_writer_new(void);
void weft_write_raw(weft_writer *w, const void *bytes, size_t len);
void weft_write_u8(weft_writer *w, uint8_t v);
void weft_write_i64(weft_writer *w, int64_t v);
void weft_write_u64(weft_writer *w, uint64_t v);
void weft_write_f64(weft_writer *w, double v);
/* A string or list<u8>: u64 length, then the bytes. */
void weft_write_bytes(weft_writer *w, const void *bytes, size_t len);
/* A list<i64> or list<f64>: u64 count, then the values, in one copy. */
void weft_write_i64s(weft_writer *w, const int64_t *values, size_t count);
void weft_write_f64s(weft_writer *w, const double *values, size_t count);

/* Ending a task. */
int32_t weft_return(weft_writer *w);          /* success: the encoded result */
int32_t weft_fail(const char *message);       /* a task error with a message */
int32_t weft_invalid_arguments(weft_reader *r); /* the reader's error */
void weft_log_info(const char *message);

#ifdef WEFT_IMPLEMENTATION

#ifdef __wasi__
#include <stdlib.h>
#include <string.h>

size_t weft_strlen(const char *s) { return strlen(s); }

void *weft_malloc(size_t size) {
    void *p = malloc(size ? size : 1);
    if (!p) {
        static const char msg[] = "weft_malloc: out of memory";
        weft_abort(msg, sizeof msg - 1);
    }
    return p;
}
#else
extern unsigned char __heap_base;
static uintptr_t weft_heap_next;

/* clang may emit calls to these even with -nostdlib. With bulk memory
 * (-mbulk-memory) a copy is one memory.copy; without, eight bytes at a
 * time where both ends allow. */
void *memcpy(void *dst, const void *src, size_t n) {
#ifdef __wasm_bulk_memory__
    __builtin_memcpy(dst, src, n);
#else
    typedef uint64_t __attribute__((__may_alias__)) weft_word;
    uint8_t *d = dst;
    const uint8_t *s = src;
    if ((((uintptr_t)d | (uintptr_t)s) & 7) == 0) {
        for (; n >= 8; n -= 8, d += 8, s += 8) *(weft_word *)d = *(const weft_word *)s;
    }
    while (n--) *d++ = *s++;
#endif
    return dst;
}

void *memset(void *dst, int c, size_t n) {
    uint8_t *d = dst;
    while (n--) *d++ = (uint8_t)c;
    return dst;
}

size_t weft_strlen(const char *s) {
    size_t n = 0;
    while (s[n]) n++;
    return n;
}

void *weft_malloc(size_t size) {
    if (weft_heap_next == 0) weft_heap_next = (uintptr_t)&__heap_base;
    uintptr_t start = (weft_heap_next + 7) & ~(uintptr_t)7;
    uintptr_t end = start + size;
    if (end < start) {
        static const char msg[] = "weft_malloc: size overflow";
        weft_abort(msg, sizeof msg - 1);
    }
    uintptr_t have = __builtin_wasm_memory_size(0) * 65536u;
    if (end > have) {
        uintptr_t pages = (end - have + 65535u) / 65536u;
        if (__builtin_wasm_memory_grow(0, pages) == (size_t)-1) {
            static const char msg[] = "weft_malloc: out of memory";
            weft_abort(msg, sizeof msg - 1);
        }
    }
    weft_heap_next = end;
    return (void *)start;
}
#endif /* __wasi__ */

__attribute__((export_name("weft_alloc"))) void *weft_alloc(int32_t len) {
    return weft_malloc((size_t)(uint32_t)len);
}

weft_reader weft_reader_new(const uint8_t *args, int32_t args_len) {
    weft_reader r = {args, (size_t)(uint32_t)args_len, 0};
    return r;
}

static const uint8_t *weft_take(weft_reader *r, size_t n) {
    if (r->error) return 0;
    if (n > r->left) {
        r->error = "unexpected end of the arguments";
        return 0;
    }
    const uint8_t *p = r->at;
    r->at += n;
    r->left -= n;
    return p;
}

static uint64_t weft_read_le(weft_reader *r, size_t n) {
    const uint8_t *p = weft_take(r, n);
    uint64_t v = 0;
    if (!p) return 0;
    for (size_t i = 0; i < n; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

uint8_t weft_read_u8(weft_reader *r) { return (uint8_t)weft_read_le(r, 1); }
int32_t weft_read_i32(weft_reader *r) { return (int32_t)(uint32_t)weft_read_le(r, 4); }
int64_t weft_read_i64(weft_reader *r) { return (int64_t)weft_read_le(r, 8); }
uint64_t weft_read_u64(weft_reader *r) { return weft_read_le(r, 8); }

int weft_read_bool(weft_reader *r) {
    uint8_t b = weft_read_u8(r);
    if (b > 1 && !r->error) r->error = "a bool must be the byte 0 or 1";
    return b == 1;
}

double weft_read_f64(weft_reader *r) {
    uint64_t bits = weft_read_le(r, 8);
    double v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

const uint8_t *weft_read_bytes(weft_reader *r, size_t *len) {
    uint64_t n = weft_read_u64(r);
    if (!r->error && n > r->left) {
        r->error = "a length prefix is longer than the arguments";
        *len = 0;
        return 0;
    }
    *len = (size_t)n;
    return weft_take(r, (size_t)n);
}

/* The count of a list of 8-byte values, checked against what remains. */
static size_t weft_read_count8(weft_reader *r) {
    uint64_t n = weft_read_u64(r);
    if (!r->error && n > r->left / 8) {
        r->error = "a length prefix is longer than the arguments";
        return 0;
    }
    return r->error ? 0 : (size_t)n;
}

int64_t *weft_read_i64s(weft_reader *r, size_t *count) {
    size_t n = weft_read_count8(r);
    const uint8_t *p = weft_take(r, n * 8);
    int64_t *values = weft_malloc(n * 8 ? n * 8 : 8);
    if (p) memcpy(values, p, n * 8);
    *count = p ? n : 0;
    return values;
}

double *weft_read_f64s(weft_reader *r, size_t *count) {
    return (double *)weft_read_i64s(r, count);
}

int weft_reader_finish(weft_reader *r) {
    if (!r->error && r->left != 0) r->error = "bytes left over after the last parameter";
    return r->error == 0;
}

weft_writer weft_writer_new(void) {
    weft_writer w = {0, 0, 0};
    return w;
}

void weft_write_raw(weft_writer *w, const void *bytes, size_t len) {
    if (w->len + len > w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 64;
        while (cap < w->len + len) cap *= 2;
        uint8_t *data = weft_malloc(cap);
        if (w->len) memcpy(data, w->data, w->len);
        w->data = data;
        w->cap = cap;
    }
    memcpy(w->data + w->len, bytes, len);
    w->len += len;
}

static void weft_write_le(weft_writer *w, uint64_t v, size_t n) {
    uint8_t b[8];
    for (size_t i = 0; i < n; i++) b[i] = (uint8_t)(v >> (8 * i));
    weft_write_raw(w, b, n);
}

void weft_write_u8(weft_writer *w, uint8_t v) { weft_write_le(w, v, 1); }
void weft_write_i64(weft_writer *w, int64_t v) { weft_write_le(w, (uint64_t)v, 8); }
void weft_write_u64(weft_writer *w, uint64_t v) { weft_write_le(w, v, 8); }

void weft_write_f64(weft_writer *w, double v) {
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    weft_write_le(w, bits, 8);
}

void weft_write_bytes(weft_writer *w, const void *bytes, size_t len) {
    weft_write_u64(w, (uint64_t)len);
    weft_write_raw(w, bytes, len);
}

void weft_write_i64s(weft_writer *w, const int64_t *values, size_t count) {
    weft_write_u64(w, (uint64_t)count);
    weft_write_raw(w, values, count * 8);
}

void weft_write_f64s(weft_writer *w, const double *values, size_t count) {
    weft_write_i64s(w, (const int64_t *)values, count);
}

int32_t weft_return(weft_writer *w) {
    weft_output(w->data, w->len);
    return WEFT_STATUS_OK;
}

int32_t weft_fail(const char *message) {
    weft_output(message, weft_strlen(message));
    return WEFT_STATUS_ERROR;
}

int32_t weft_invalid_arguments(weft_reader *r) {
    const char *message = r->error ? r->error : "invalid arguments";
    weft_output(message, weft_strlen(message));
    return WEFT_STATUS_INVALID_ARGUMENTS;
}

void weft_log_info(const char *message) { weft_log(3, message, weft_strlen(message)); }

#endif /* WEFT_IMPLEMENTATION */
#endif /* WEFT_H */
