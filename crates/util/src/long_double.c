/* Long double helpers for INCRBYFLOAT: parse with strtold, add, print with %.17Lf and
 * trim trailing zeroes, as Redis does on the same platform. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>

/* Parses exactly `len` bytes as a long double. Returns 1 on success. */
static int parse_strict(const char *s, size_t len, long double *out) {
    char buf[5120];
    char *end;
    long double value;
    if (len == 0 || len >= sizeof(buf)) return 0;
    memcpy(buf, s, len);
    buf[len] = '\0';
    errno = 0;
    value = strtold(buf, &end);
    if (isspace((unsigned char)buf[0]) || *end != '\0' || (size_t)(end - buf) != len) return 0;
    if (errno == ERANGE && (value == HUGE_VALL || value == -HUGE_VALL || fpclassify(value) == FP_ZERO)) return 0;
    if (errno == EINVAL || isnan(value)) return 0;
    *out = value;
    return 1;
}

/* Formats like Redis's human mode. Returns the length, or 0 when it does not fit. */
static size_t format_human(long double value, char *out, size_t cap) {
    int len;
    if (isinf(value)) {
        len = snprintf(out, cap, "%s", value > 0 ? "inf" : "-inf");
        return (len < 0 || (size_t)len >= cap) ? 0 : (size_t)len;
    }
    len = snprintf(out, cap, "%.17Lf", value);
    if (len < 0 || (size_t)len >= cap) return 0;
    if (strchr(out, '.') != NULL) {
        while (len > 0 && out[len - 1] == '0') len--;
        if (len > 0 && out[len - 1] == '.') len--;
    }
    if (len == 2 && out[0] == '-' && out[1] == '0') {
        out[0] = '0';
        len = 1;
    }
    out[len] = '\0';
    return (size_t)len;
}

/* Returns 1 when `s` is a valid long double. */
int lodestone_ld_valid(const char *s, size_t len) {
    long double v;
    return parse_strict(s, len, &v);
}

/* current + increment. Result codes: 0 ok (text in out, length in *out_len),
 * 1 current is not a float, 2 increment is not a float, 3 result is NaN or infinite,
 * 4 no room. */
int lodestone_ld_incr(const char *current, size_t current_len, int has_current,
                      const char *increment, size_t increment_len,
                      char *out, size_t cap, size_t *out_len) {
    long double base = 0, incr, sum;
    if (has_current && !parse_strict(current, current_len, &base)) return 1;
    if (!parse_strict(increment, increment_len, &incr)) return 2;
    sum = base + incr;
    if (isnan(sum) || isinf(sum)) return 3;
    *out_len = format_human(sum, out, cap);
    return *out_len == 0 ? 4 : 0;
}

/* Parses exactly `len` bytes as a double, as Redis's string2d: no leading space, no
 * trailing bytes, NaN refused. Returns 1 on success. */
int lodestone_d_parse(const char *s, size_t len, double *out) {
    char buf[5120];
    char *end;
    double value;
    if (len == 0 || len >= sizeof(buf)) return 0;
    memcpy(buf, s, len);
    buf[len] = '\0';
    errno = 0;
    value = strtod(buf, &end);
    if (isspace((unsigned char)buf[0]) || *end != '\0' || (size_t)(end - buf) != len) return 0;
    if (errno == ERANGE && (value == HUGE_VAL || value == -HUGE_VAL || fpclassify(value) == FP_ZERO)) return 0;
    if (isnan(value)) return 0;
    *out = value;
    return 1;
}

/* Formats a double with %.17g (Redis 7.0's reply format for doubles). */
size_t lodestone_d_format17g(double value, char *out, size_t cap) {
    int len = snprintf(out, cap, "%.17g", value);
    return (len < 0 || (size_t)len >= cap) ? 0 : (size_t)len;
}
