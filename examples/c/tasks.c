/*
 * The C version of five tasks of the Rust test kit (tests/guests/testkit):
 * same names, same signatures, same results. The tests compile it with
 * clang and check that both modules agree on the same inputs.
 *
 *   clang --target=wasm32-unknown-unknown -O2 -nostdlib -Wl,--no-entry \
 *         -I guest-sdk/c -o tasks.wasm examples/c/tasks.c
 */
#define WEFT_IMPLEMENTATION
#include "weft.h"

WEFT_TASK(add, "a: i64, b: i64", "i64") {
    weft_reader r = weft_reader_new(args, args_len);
    int64_t a = weft_read_i64(&r);
    int64_t b = weft_read_i64(&r);
    if (!weft_reader_finish(&r)) return weft_invalid_arguments(&r);
    weft_writer w = weft_writer_new();
    weft_write_i64(&w, (int64_t)((uint64_t)a + (uint64_t)b));
    return weft_return(&w);
}

WEFT_TASK(greet, "name: string", "string") {
    weft_reader r = weft_reader_new(args, args_len);
    size_t len;
    const uint8_t *name = weft_read_bytes(&r, &len);
    if (!weft_reader_finish(&r)) return weft_invalid_arguments(&r);
    static const char hello[] = "hello, ";
    weft_writer w = weft_writer_new();
    weft_write_u64(&w, (uint64_t)(sizeof hello - 1 + len));
    weft_write_raw(&w, hello, sizeof hello - 1);
    weft_write_raw(&w, name, len);
    return weft_return(&w);
}

WEFT_TASK(reverse_bytes, "data: list<u8>", "list<u8>") {
    weft_reader r = weft_reader_new(args, args_len);
    size_t len;
    const uint8_t *data = weft_read_bytes(&r, &len);
    if (!weft_reader_finish(&r)) return weft_invalid_arguments(&r);
    uint8_t *out = weft_malloc(len);
    for (size_t i = 0; i < len; i++) out[i] = data[len - 1 - i];
    weft_writer w = weft_writer_new();
    weft_write_bytes(&w, out, len);
    return weft_return(&w);
}

WEFT_TASK(keep_multiples_of_3, "xs: list<i64>", "list<i64>") {
    weft_reader r = weft_reader_new(args, args_len);
    size_t n;
    int64_t *xs = weft_read_i64s(&r, &n);
    if (!weft_reader_finish(&r)) return weft_invalid_arguments(&r);
    size_t kept = 0;
    for (size_t i = 0; i < n; i++)
        if (xs[i] % 3 == 0) xs[kept++] = xs[i];
    weft_writer w = weft_writer_new();
    weft_write_i64s(&w, xs, kept);
    return weft_return(&w);
}

/* Writes the decimal form of v at the end of buf; returns where it starts. */
static char *format_i64(int64_t v, char *end) {
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    *--end = 0;
    do {
        *--end = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) *--end = '-';
    return end;
}

WEFT_TASK(divide, "a: i64, b: i64", "i64") {
    weft_reader r = weft_reader_new(args, args_len);
    int64_t a = weft_read_i64(&r);
    int64_t b = weft_read_i64(&r);
    if (!weft_reader_finish(&r)) return weft_invalid_arguments(&r);
    if (b == 0) {
        char digits[24];
        const char *number = format_i64(a, digits + sizeof digits);
        static const char before[] = "cannot divide ";
        static const char after[] = " by zero";
        weft_writer msg = weft_writer_new();
        weft_write_raw(&msg, before, sizeof before - 1);
        weft_write_raw(&msg, number, weft_strlen(number));
        weft_write_raw(&msg, after, sizeof after); /* with the NUL */
        return weft_fail((const char *)msg.data);
    }
    weft_writer w = weft_writer_new();
    weft_write_i64(&w, a / b);
    return weft_return(&w);
}
