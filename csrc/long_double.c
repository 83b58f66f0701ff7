/*
 * INCRBYFLOAT's arithmetic, in C `long double`, as Redis 7.0 does it.
 *
 * Redis parses with string2ld (util.c), adds in long double, and prints with
 * ld2string(..., LD_STR_HUMAN): "%.17Lf" with trailing zeros and a trailing '.'
 * trimmed, and "-0" printed as "0". Rust has no long double, so these few lines
 * run the same C library routines (strtold, snprintf) and hand back only byte
 * strings and ints: no long double ever crosses into Rust.
 *
 * The Rust side is src/protocol/long_double.rs.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Redis's MAX_LONG_DOUBLE_CHARS: the longest text string2ld reads (less one,
 * for the NUL), and the buffer ld2string prints into. */
#define CAIRN_LD_MAX_CHARS (5 * 1024)

/* Return codes of cairn_ld_incr; src/protocol/long_double.rs has the same. */
#define CAIRN_LD_OK 0
#define CAIRN_LD_BAD_OLD 1
#define CAIRN_LD_BAD_DELTA 2
#define CAIRN_LD_NAN_OR_INF 3
#define CAIRN_LD_BAD_BUFFER 4

/* string2ld: 1 and *out set if s[0..len) is exactly one long double, else 0.
 * Empty, too long, led by white space, followed by anything (an embedded NUL
 * included), overflowing, underflowing to zero, or NaN: not a number. */
static int string2ld(const char *s, size_t len, long double *out) {
    char buf[CAIRN_LD_MAX_CHARS];
    long double value;
    char *eptr;

    if (len == 0 || len >= sizeof(buf)) return 0;
    memcpy(buf, s, len);
    buf[len] = '\0';

    errno = 0;
    value = strtold(buf, &eptr);
    if (isspace((unsigned char)buf[0]) || eptr[0] != '\0' ||
        (size_t)(eptr - buf) != len ||
        (errno == ERANGE &&
         (value == HUGE_VALL || value == -HUGE_VALL || fpclassify(value) == FP_ZERO)) ||
        errno == EINVAL || isnan(value))
        return 0;
    *out = value;
    return 1;
}

/* ld2string with LD_STR_HUMAN, for a finite value: the length written to buf
 * (NUL not counted), or 0 when it does not fit, as Redis returns (and then
 * stores the empty string). No finite long double of any format needs more
 * than about 5,000 bytes, so with CAIRN_LD_MAX_CHARS that never happens. */
static size_t ld2string_human(char *buf, size_t cap, long double value) {
    int n = snprintf(buf, cap, "%.17Lf", value);
    size_t l;

    if (n < 0) return 0;
    l = (size_t)n;
    if (l + 1 > cap) return 0;
    if (strchr(buf, '.') != NULL) {
        char *p = buf + l - 1;
        while (*p == '0') {
            p--;
            l--;
        }
        if (*p == '.') l--;
    }
    if (l == 2 && buf[0] == '-' && buf[1] == '0') {
        buf[0] = '0';
        l = 1;
    }
    buf[l] = '\0';
    return l;
}

/* 1 if s[0..len) is a number INCRBYFLOAT accepts (string2ld), else 0. */
int cairn_ld_valid(const char *s, size_t len) {
    long double ignored;
    return string2ld(s, len, &ignored);
}

/* INCRBYFLOAT's arithmetic: old + delta, printed into out[0..*out_len).
 * old == NULL means the key is absent (0, as Redis). The stored value is
 * checked before the increment, as in Redis's incrbyfloatCommand. out_cap must
 * be at least CAIRN_LD_MAX_CHARS, the buffer Redis prints into. */
int cairn_ld_incr(const char *old, size_t old_len, const char *delta, size_t delta_len,
                  char *out, size_t out_cap, size_t *out_len) {
    long double value = 0, incr;

    if (out == NULL || out_len == NULL || out_cap < CAIRN_LD_MAX_CHARS) return CAIRN_LD_BAD_BUFFER;
    if (old != NULL && !string2ld(old, old_len, &value)) return CAIRN_LD_BAD_OLD;
    if (!string2ld(delta, delta_len, &incr)) return CAIRN_LD_BAD_DELTA;
    value += incr;
    if (isnan(value) || isinf(value)) return CAIRN_LD_NAN_OR_INF;
    *out_len = ld2string_human(out, CAIRN_LD_MAX_CHARS, value);
    return CAIRN_LD_OK;
}
