/* Strings, hashing, the hash map, dates, amounts, and one row's checks against `parse_row`. */
#include "fastdetect.h"

static uint64_t mix(uint64_t a, uint64_t b) {  /* a 128-bit product folded: every bit reaches every bit */
    __uint128_t product = (__uint128_t)a * b;
    return (uint64_t)product ^ (uint64_t)(product >> 64);
}

uint64_t fd_str_hash(Str s) {  /* eight bytes at a time */
    uint64_t h = 0x243f6a8885a308d3ULL ^ (uint64_t)s.n;
    Py_ssize_t i = 0;
    for (; i + 8 <= s.n; i += 8) {
        uint64_t word;
        memcpy(&word, s.p + i, 8);
        h = mix(h ^ word, 0x9e3779b97f4a7c15ULL);
    }
    uint64_t tail = 0;
    memcpy(&tail, s.p + i, (size_t)(s.n - i));
    return mix(h ^ tail, 0xbf58476d1ce4e5b9ULL);
}

/* Memory comes from the raw allocator (the first pass runs without the GIL); running out returns NULL or
 * -1, and the function Python called raises MemoryError. */
PyObject *fd_no_memory(void) { return PyErr_Occurred() ? NULL : PyErr_NoMemory(); }

void *fd_grow(void *array, Py_ssize_t *capacity, Py_ssize_t need, size_t item) {
    if (need <= *capacity && array) return array;  /* (never NULL: NULL says out of memory) */
    Py_ssize_t cap = *capacity ? *capacity : 16;
    while (cap < need) cap *= 2;
    void *bigger = PyMem_RawRealloc(array, (size_t)cap * item);
    if (!bigger) return NULL;  /* the caller says so, holding the GIL */
    *capacity = cap;
    return bigger;
}

/* Days since 1970-01-01 of a proleptic Gregorian date, and back (H. Hinnant's algorithms). */
static int32_t days_from_civil(int y, int m, int d) {
    y -= m <= 2;
    int era = (y >= 0 ? y : y - 399) / 400;
    int yoe = y - era * 400;
    int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (int32_t)(era * 146097 + doe - 719468);
}

void fd_civil_from_days(int32_t z0, int *y, int *m, int *d) {
    int z = z0 + 719468;
    int era = (z >= 0 ? z : z - 146096) / 146097;
    int doe = z - era * 146097;
    int yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp + (mp < 10 ? 3 : -9);
    *y = yoe + era * 400 + (*m <= 2);
}

void fd_money_text(int64_t cents, char out[32]) {
    uint64_t magnitude = cents < 0 ? (uint64_t)0 - (uint64_t)cents : (uint64_t)cents;
    snprintf(out, 32, "%s%llu.%02llu", cents < 0 ? "-" : "", (unsigned long long)(magnitude / 100),
             (unsigned long long)(magnitude % 100));
}

const char *const TXN_TYPES[N_TXN_TYPES] = {"", "CHARGE", "PAYMENT", "ADJUSTMENT", "REFUND", "RECOUPMENT", "REVERSAL",
                                            "TRANSFER"};
const char *const PAYER_TYPES[N_PAYER_TYPES] = {"", "PATIENT", "MEDICARE", "MEDICAID", "COMMERCIAL", "OTHER"};

int fd_lookup_code(Str s, const char *const *names, int count) {
    for (int i = 1; i < count; i++)
        if (names[i][0] == (s.n ? s.p[0] : 0) && (Py_ssize_t)strlen(names[i]) == s.n
            && memcmp(names[i], s.p, (size_t)s.n) == 0)
            return i;
    return 0;
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* `^[+-]?\d+(\.\d{1,2})?$` with at most ten integer digits, as cents; 0 when it is not one. */
int fd_parse_amount(Str s, int allow_sign, int64_t *cents) {
    Py_ssize_t i = 0;
    int negative = 0;
    if (s.n && (s.p[0] == '+' || s.p[0] == '-')) {
        if (!allow_sign) return 0;
        negative = s.p[0] == '-';
        i = 1;
    }
    int64_t whole = 0;
    Py_ssize_t digits = 0;
    for (; i < s.n && is_digit(s.p[i]); i++, digits++) whole = whole * 10 + (s.p[i] - '0');
    if (digits == 0 || digits > 10) return 0;
    int64_t fraction = 0;
    if (i < s.n) {
        if (s.p[i] != '.') return 0;
        Py_ssize_t places = s.n - i - 1;
        if (places < 1 || places > 2 || !is_digit(s.p[i + 1]) || (places == 2 && !is_digit(s.p[i + 2]))) return 0;
        fraction = (s.p[i + 1] - '0') * 10 + (places == 2 ? s.p[i + 2] - '0' : 0);
    }
    *cents = (whole * 100 + fraction) * (negative ? -1 : 1);
    return 1;
}

int fd_parse_date(Str s, int32_t *day) {
    if (s.n != 10 || s.p[4] != '-' || s.p[7] != '-') return 0;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && !is_digit(s.p[i])) return 0;
    int y = (s.p[0] - '0') * 1000 + (s.p[1] - '0') * 100 + (s.p[2] - '0') * 10 + (s.p[3] - '0');
    int m = (s.p[5] - '0') * 10 + (s.p[6] - '0');
    int d = (s.p[8] - '0') * 10 + (s.p[9] - '0');
    static const int month_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1900 || y > 2199 || m < 1 || m > 12 || d < 1) return 0;  /* ledger.FIRST_YEAR, LAST_YEAR */
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > month_days[m - 1] + (m == 2 && leap)) return 0;
    *day = days_from_civil(y, m, d);
    return 1;
}


/* 1 when `parse_row` accepts the row as its fields stand, with the same values; 0 when it might not.
 * The fields are plain (fd_split_line has seen to that). */
int fd_row_from_fields(const Str *f, Py_ssize_t id_max_length, Row *r) {
    static const int ids[] = {F_TXN_ID, F_ACCOUNT_ID, F_PATIENT_ID, F_GUARANTOR_ID, F_PAYER_ID, F_CLAIM_ID,
                              F_REFERENCE, F_ADJ_CODE};
    for (int i = F_TXN_ID; i <= F_POSTING_DATE; i++)
        if (f[i].n == 0) return 0;
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
        if (f[ids[i]].n > id_max_length) return 0;
    r->type = (int8_t)fd_lookup_code(f[F_TXN_TYPE], TXN_TYPES, N_TXN_TYPES);
    if (!r->type || !fd_parse_amount(f[F_AMOUNT], 1, &r->cents) || r->cents == 0) return 0;
    if (!fd_parse_date(f[F_POSTING_DATE], &r->posting)) return 0;
    r->ptype = (int8_t)fd_lookup_code(f[F_PAYER_TYPE], PAYER_TYPES, N_PAYER_TYPES);
    if (f[F_PAYER_TYPE].n && !r->ptype) return 0;
    if (!r->ptype && r->type != T_CHARGE && r->type != T_REVERSAL) return 0;
    int insurer = r->ptype > P_PATIENT;
    if (insurer && f[F_PAYER_ID].n == 0) return 0;
    if (r->type == T_CHARGE && r->cents < 0) return 0;
    if (r->type == T_PAYMENT && r->cents > 0) return 0;
    r->rank = 0;
    if (f[F_COVERAGE_RANK].n) {
        if (!insurer || f[F_COVERAGE_RANK].n != 1 || f[F_COVERAGE_RANK].p[0] < '1' || f[F_COVERAGE_RANK].p[0] > '3')
            return 0;
        r->rank = (int8_t)(f[F_COVERAGE_RANK].p[0] - '0');
    }
    r->resp = -1;
    if (f[F_PATIENT_RESP].n && (!insurer || r->type != T_PAYMENT || !fd_parse_amount(f[F_PATIENT_RESP], 0, &r->resp)))
        return 0;
    if (r->type == T_REVERSAL && f[F_REVERSAL_OF].n == 0) return 0;
    int32_t ignored;
    r->service = NO_DAY;
    if (f[F_SERVICE_DATE].n && !fd_parse_date(f[F_SERVICE_DATE], &r->service)) return 0;
    if (f[F_ADMIT_DATE].n && !fd_parse_date(f[F_ADMIT_DATE], &ignored)) return 0;
    if (f[F_DISCHARGE_DATE].n && !fd_parse_date(f[F_DISCHARGE_DATE], &ignored)) return 0;
    for (Py_ssize_t i = 0; i < f[F_PATIENT_STATE].n; i++)  /* parse_row upper-cases it */
        if (f[F_PATIENT_STATE].p[i] >= 'a' && f[F_PATIENT_STATE].p[i] <= 'z') return 0;
    r->txn_id = f[F_TXN_ID]; r->account_id = f[F_ACCOUNT_ID]; r->patient_id = f[F_PATIENT_ID];
    r->guarantor_id = f[F_GUARANTOR_ID]; r->payer_id = f[F_PAYER_ID]; r->reference = f[F_REFERENCE];
    r->claim_id = f[F_CLAIM_ID]; r->adj_code = f[F_ADJ_CODE]; r->reversal_of = f[F_REVERSAL_OF];
    r->state = f[F_PATIENT_STATE];
    return 1;
}

/* ------------------------------------------------------------------ hash map: Str -> int32 */


int fd_map_init(Map *m, Py_ssize_t expected) {
    Py_ssize_t cap = 64;
    while (cap < expected * 2) cap *= 2;
    m->slots = PyMem_RawCalloc((size_t)cap, sizeof(Slot));
    if (!m->slots) return -1;
    for (Py_ssize_t i = 0; i < cap; i++) m->slots[i].value = -1;
    m->mask = cap - 1;
    m->used = 0;
    return 0;
}

void fd_map_free(Map *m) { PyMem_RawFree(m->slots); m->slots = NULL; }

/* The value under `key`, or -1 after adding it with `value` (`*added` says which). */
int fd_map_put(Map *m, Str key, int32_t value, int *added) {
    if ((m->used + 1) * 2 > m->mask + 1) {
        Map bigger;
        if (fd_map_init(&bigger, m->mask + 1) < 0) return -2;
        for (Py_ssize_t i = 0; i <= m->mask; i++) {
            Slot s = m->slots[i];
            if (s.value < 0) continue;
            Py_ssize_t j = s.hash & bigger.mask;
            while (bigger.slots[j].value >= 0) j = (j + 1) & bigger.mask;
            bigger.slots[j] = s;
        }
        bigger.used = m->used;
        fd_map_free(m);
        *m = bigger;
    }
    uint32_t hash = (uint32_t)fd_str_hash(key);
    Py_ssize_t j = hash & m->mask;
    while (m->slots[j].value >= 0) {
        if (m->slots[j].hash == hash && str_eq(m->slots[j].key, key)) { *added = 0; return m->slots[j].value; }
        j = (j + 1) & m->mask;
    }
    m->slots[j].key = key; m->slots[j].hash = hash; m->slots[j].value = value;
    m->used++;
    *added = 1;
    return value;
}

int32_t fd_map_get(const Map *m, Str key) {
    uint32_t hash = (uint32_t)fd_str_hash(key);
    Py_ssize_t j = hash & m->mask;
    while (m->slots[j].value >= 0) {
        if (m->slots[j].hash == hash && str_eq(m->slots[j].key, key)) return m->slots[j].value;
        j = (j + 1) & m->mask;
    }
    return -1;
}

/* Every byte UTF-8 (the reference decodes the whole file) and no NUL. */
int fd_utf8_ok(const unsigned char *p, Py_ssize_t n) {
    Py_ssize_t i = 0;
    while (i < n) {
        if (i + 8 <= n) {  /* eight ASCII bytes, none of them NUL */
            uint64_t word;
            memcpy(&word, p + i, 8);
            if (!(word & 0x8080808080808080ULL) && !((word - 0x0101010101010101ULL) & ~word & 0x8080808080808080ULL)) {
                i += 8;
                continue;
            }
        }
        unsigned char c = p[i];
        if (c && c < 0x80) { i++; continue; }
        if (c == 0) return 0;
        int more;
        uint32_t cp;
        if (c >= 0xc2 && c <= 0xdf) { more = 1; cp = c & 0x1f; }
        else if (c >= 0xe0 && c <= 0xef) { more = 2; cp = c & 0x0f; }
        else if (c >= 0xf0 && c <= 0xf4) { more = 3; cp = c & 0x07; }
        else return 0;
        if (i + more >= n) return 0;
        for (int k = 1; k <= more; k++) {
            if ((p[i + k] & 0xc0) != 0x80) return 0;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        if ((more == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (more == 3 && (cp < 0x10000 || cp > 0x10ffff)))
            return 0;
        i += more + 1;
    }
    return 1;
}
