/* The cases as `refunds detect` writes them: json.dumps(case.to_json(), separators=(", ", ": ")). */
#include "fastdetect.h"

void fd_put(Out *o, const char *text, Py_ssize_t n) {
    if (o->failed) return;
    char *bigger = fd_grow(o->p, &o->cap, o->n + n, 1);
    if (!bigger) { o->failed = 1; return; }
    o->p = bigger;
    memcpy(o->p + o->n, text, (size_t)n);
    o->n += n;
}
void fd_puts(Out *o, const char *text) { fd_put(o, text, (Py_ssize_t)strlen(text)); }

/* json.dumps of a str (ensure_ascii): the text is UTF-8 */
void fd_put_json_str(Out *o, Str s) {
    static const char hex[] = "0123456789abcdef";
    char buf[16];
    fd_puts(o, "\"");
    const unsigned char *p = (const unsigned char *)s.p;
    Py_ssize_t i = 0, plain_from = 0;
    while (i < s.n) {
        unsigned char c = p[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') { i++; continue; }
        fd_put(o, s.p + plain_from, i - plain_from);
        uint32_t cp = c;
        int len = 1;
        if (c >= 0xf0) { cp = c & 0x07; len = 4; }
        else if (c >= 0xe0) { cp = c & 0x0f; len = 3; }
        else if (c >= 0xc0) { cp = c & 0x1f; len = 2; }
        for (int k = 1; k < len && i + k < s.n; k++) cp = (cp << 6) | (p[i + k] & 0x3f);
        i += len;
        plain_from = i;
        const char *named = cp == '"' ? "\\\"" : cp == '\\' ? "\\\\" : cp == '\n' ? "\\n" : cp == '\r' ? "\\r"
                          : cp == '\t' ? "\\t" : cp == '\b' ? "\\b" : cp == '\f' ? "\\f" : NULL;
        if (named) { fd_puts(o, named); continue; }
        uint32_t units[2] = {cp, 0};
        int n_units = 1;
        if (cp > 0xffff) { cp -= 0x10000; units[0] = 0xd800 | (cp >> 10); units[1] = 0xdc00 | (cp & 0x3ff); n_units = 2; }
        for (int u = 0; u < n_units; u++) {
            snprintf(buf, sizeof buf, "\\u%c%c%c%c", hex[(units[u] >> 12) & 15], hex[(units[u] >> 8) & 15],
                     hex[(units[u] >> 4) & 15], hex[units[u] & 15]);
            fd_puts(o, buf);
        }
    }
    fd_put(o, s.p + plain_from, s.n - plain_from);
    fd_puts(o, "\"");
}

void fd_put_money(Out *o, int64_t cents) {
    char text[32];
    fd_money_text(cents, text);
    fd_puts(o, "\"");
    fd_puts(o, text);
    fd_puts(o, "\"");
}

void fd_iso_date(int32_t day, char out[11]) {
    int y, m, d;
    fd_civil_from_days(day, &y, &m, &d);  /* 0001-01-01 to 9999-12-31: days_after keeps to them */
    int parts[3][2] = {{y / 100, y % 100}, {m, -1}, {d, -1}};
    char *at = out;
    for (int i = 0; i < 3; i++) {
        for (int k = 0; k < 2 && parts[i][k] >= 0; k++) { *at++ = (char)('0' + parts[i][k] / 10 % 10); *at++ = (char)('0' + parts[i][k] % 10); }
        if (i < 2) *at++ = '-';
    }
    *at = 0;
}

void fd_put_date(Out *o, int32_t day) {
    if (day == NO_DAY) { fd_puts(o, "null"); return; }
    char buf[16] = "\"";
    fd_iso_date(day, buf + 1);
    strcat(buf, "\"");
    fd_puts(o, buf);
}

void fd_put_optional(Out *o, const char *text) {
    if (!text) { fd_puts(o, "null"); return; }
    Str s = {text, (Py_ssize_t)strlen(text)};
    fd_put_json_str(o, s);
}

void fd_put_optional_str(Out *o, Str s) {
    if (!s.p) fd_puts(o, "null");
    else fd_put_json_str(o, s);
}
