/* The compiled detection pass: `ledger.py` and `split.py`'s answer on a clean-shaped CSV ledger,
 * in one pass of C over the file's bytes.
 *
 * The Python modules are the definition; this file is held byte-identical to them by the property
 * tests (tests/unit/test_compiled.py). It decides nothing they would decide differently:
 *
 *   - A row is "clean" when every field the rules read is plain printable ASCII in exactly the form
 *     `parse_row` accepts as it stands (no spaces to trim, upper-case codes, ISO dates, amounts with
 *     at most two places, ids within the length limit). A row that is not clean is *flagged*: Python
 *     reads that one line with the csv module and `parse_row`, rejects it with the exact message or
 *     hands the accepted transaction back (`Scan.accept`).
 *   - A file the reference reader would read differently as a whole (bad UTF-8, a NUL, a quoted field
 *     across lines, a lone CR) raises NotClean, and the caller uses the reference reader instead.
 *   - Money is whole cents in 64 bits (amounts of at most ten integer digits; anything larger is
 *     flagged, and a flagged one that large raises NotClean), dates are days since 1970-01-01.
 *
 * Nothing is copied out of the file for clean rows: rows and accounts keep pointers into the
 * caller's buffer, which the Scan holds (a Py_buffer) until it is freed.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>

#include <datetime.h>

#include "_fastdetect_sha256.h"

/* ------------------------------------------------------------------ small things */

typedef struct { const char *p; Py_ssize_t n; } Str;

static int str_eq(Str a, Str b) { return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, (size_t)a.n) == 0); }

static int str_cmp(Str a, Str b) {  /* the order of Python str for UTF-8: byte order */
    Py_ssize_t n = a.n < b.n ? a.n : b.n;
    int c = n ? memcmp(a.p, b.p, (size_t)n) : 0;
    if (c) return c;
    return a.n < b.n ? -1 : a.n > b.n;
}

static uint64_t mix(uint64_t a, uint64_t b) {  /* a 128-bit product folded: every bit reaches every bit */
    __uint128_t product = (__uint128_t)a * b;
    return (uint64_t)product ^ (uint64_t)(product >> 64);
}

static uint64_t str_hash(Str s) {  /* eight bytes at a time */
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

static PyObject *NotClean;

/* Memory comes from the raw allocator (the first pass runs without the GIL); running out returns NULL or
 * -1, and the function Python called raises MemoryError. */
static PyObject *no_memory(void) { return PyErr_Occurred() ? NULL : PyErr_NoMemory(); }

static void *grow(void *array, Py_ssize_t *capacity, Py_ssize_t need, size_t item) {
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

static void civil_from_days(int32_t z0, int *y, int *m, int *d) {
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

#define MIN_DAY (-719162)  /* 0001-01-01 */
#define MAX_DAY 2932896    /* 9999-12-31 */
#define NO_DAY INT32_MIN

/* ------------------------------------------------------------------ rows */

enum { T_CHARGE = 1, T_PAYMENT, T_ADJUSTMENT, T_REFUND, T_RECOUPMENT, T_REVERSAL, T_TRANSFER };
static const char *TXN_TYPES[] = {"", "CHARGE", "PAYMENT", "ADJUSTMENT", "REFUND", "RECOUPMENT", "REVERSAL",
                                  "TRANSFER"};
enum { P_NONE = 0, P_PATIENT, P_MEDICARE, P_MEDICAID, P_COMMERCIAL, P_OTHER };
static const char *PAYER_TYPES[] = {"", "PATIENT", "MEDICARE", "MEDICAID", "COMMERCIAL", "OTHER"};

/* The fields the rules and the checks read, in the order `Scan.accept` gives them. */
enum { F_TXN_ID, F_ACCOUNT_ID, F_PATIENT_ID, F_GUARANTOR_ID, F_TXN_TYPE, F_AMOUNT, F_POSTING_DATE, F_PAYER_TYPE,
       F_PAYER_ID, F_COVERAGE_RANK, F_REFERENCE, F_CLAIM_ID, F_PATIENT_RESP, F_ADJ_CODE, F_REVERSAL_OF,
       F_SERVICE_DATE, F_ADMIT_DATE, F_DISCHARGE_DATE, F_PATIENT_STATE,
       /* read by no rule: given a role only where the rows' values are wanted (`Scan.values`) */
       F_TYPE_OF_BILL, F_MBI, F_PATIENT_NAME, F_FACILITY_ID, N_FIELDS };

typedef struct {
    Str txn_id, account_id, patient_id, guarantor_id, payer_id, reference, claim_id, adj_code, reversal_of, state;
    int64_t cents, resp;  /* resp: patient responsibility in cents, -1 when none */
    int32_t posting, service;  /* service: NO_DAY when none */
    int8_t type, ptype, rank;  /* rank: 0 when none */
} Row;

static int lookup_code(Str s, const char **names, int count) {
    for (int i = 1; i < count; i++)
        if (names[i][0] == (s.n ? s.p[0] : 0) && (Py_ssize_t)strlen(names[i]) == s.n
            && memcmp(names[i], s.p, (size_t)s.n) == 0)
            return i;
    return 0;
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* `^[+-]?\d+(\.\d{1,2})?$` with at most ten integer digits, as cents; 0 when it is not one. */
static int parse_amount(Str s, int allow_sign, int64_t *cents) {
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

static int parse_date(Str s, int32_t *day) {
    if (s.n != 10 || s.p[4] != '-' || s.p[7] != '-') return 0;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && !is_digit(s.p[i])) return 0;
    int y = (s.p[0] - '0') * 1000 + (s.p[1] - '0') * 100 + (s.p[2] - '0') * 10 + (s.p[3] - '0');
    int m = (s.p[5] - '0') * 10 + (s.p[6] - '0');
    int d = (s.p[8] - '0') * 10 + (s.p[9] - '0');
    static const int month_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1 || m < 1 || m > 12 || d < 1) return 0;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > month_days[m - 1] + (m == 2 && leap)) return 0;
    *day = days_from_civil(y, m, d);
    return 1;
}

/* Printable ASCII with nothing for `str.strip()` to take off. */
static int plain(Str s) {
    for (Py_ssize_t i = 0; i < s.n; i++)
        if ((unsigned char)s.p[i] < 0x20 || (unsigned char)s.p[i] > 0x7e) return 0;
    return s.n == 0 || (s.p[0] != ' ' && s.p[s.n - 1] != ' ');
}

/* 1 when `parse_row` accepts the row as its fields stand, with the same values; 0 when it might not.
 * The fields are plain (split_line has seen to that). */
static int row_from_fields(const Str *f, Py_ssize_t id_max_length, Row *r) {
    static const int ids[] = {F_TXN_ID, F_ACCOUNT_ID, F_PATIENT_ID, F_GUARANTOR_ID, F_PAYER_ID, F_CLAIM_ID,
                              F_REFERENCE, F_ADJ_CODE};
    for (int i = F_TXN_ID; i <= F_POSTING_DATE; i++)
        if (f[i].n == 0) return 0;
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
        if (f[ids[i]].n > id_max_length) return 0;
    r->type = (int8_t)lookup_code(f[F_TXN_TYPE], TXN_TYPES, 8);
    if (!r->type || !parse_amount(f[F_AMOUNT], 1, &r->cents) || r->cents == 0) return 0;
    if (!parse_date(f[F_POSTING_DATE], &r->posting)) return 0;
    r->ptype = (int8_t)lookup_code(f[F_PAYER_TYPE], PAYER_TYPES, 6);
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
    if (f[F_PATIENT_RESP].n && (!insurer || r->type != T_PAYMENT || !parse_amount(f[F_PATIENT_RESP], 0, &r->resp)))
        return 0;
    if (r->type == T_REVERSAL && f[F_REVERSAL_OF].n == 0) return 0;
    int32_t ignored;
    r->service = NO_DAY;
    if (f[F_SERVICE_DATE].n && !parse_date(f[F_SERVICE_DATE], &r->service)) return 0;
    if (f[F_ADMIT_DATE].n && !parse_date(f[F_ADMIT_DATE], &ignored)) return 0;
    if (f[F_DISCHARGE_DATE].n && !parse_date(f[F_DISCHARGE_DATE], &ignored)) return 0;
    for (Py_ssize_t i = 0; i < f[F_PATIENT_STATE].n; i++)  /* parse_row upper-cases it */
        if (f[F_PATIENT_STATE].p[i] >= 'a' && f[F_PATIENT_STATE].p[i] <= 'z') return 0;
    r->txn_id = f[F_TXN_ID]; r->account_id = f[F_ACCOUNT_ID]; r->patient_id = f[F_PATIENT_ID];
    r->guarantor_id = f[F_GUARANTOR_ID]; r->payer_id = f[F_PAYER_ID]; r->reference = f[F_REFERENCE];
    r->claim_id = f[F_CLAIM_ID]; r->adj_code = f[F_ADJ_CODE]; r->reversal_of = f[F_REVERSAL_OF];
    r->state = f[F_PATIENT_STATE];
    return 1;
}

/* ------------------------------------------------------------------ hash map: Str -> int32 */

typedef struct { Str key; uint32_t hash; int32_t value; } Slot;
typedef struct { Slot *slots; Py_ssize_t mask, used; } Map;

static int map_init(Map *m, Py_ssize_t expected) {
    Py_ssize_t cap = 64;
    while (cap < expected * 2) cap *= 2;
    m->slots = PyMem_RawCalloc((size_t)cap, sizeof(Slot));
    if (!m->slots) return -1;
    for (Py_ssize_t i = 0; i < cap; i++) m->slots[i].value = -1;
    m->mask = cap - 1;
    m->used = 0;
    return 0;
}

static void map_free(Map *m) { PyMem_RawFree(m->slots); m->slots = NULL; }

/* The value under `key`, or -1 after adding it with `value` (`*added` says which). */
static int map_put(Map *m, Str key, int32_t value, int *added) {
    if ((m->used + 1) * 2 > m->mask + 1) {
        Map bigger;
        if (map_init(&bigger, m->mask + 1) < 0) return -2;
        for (Py_ssize_t i = 0; i <= m->mask; i++) {
            Slot s = m->slots[i];
            if (s.value < 0) continue;
            Py_ssize_t j = s.hash & bigger.mask;
            while (bigger.slots[j].value >= 0) j = (j + 1) & bigger.mask;
            bigger.slots[j] = s;
        }
        bigger.used = m->used;
        map_free(m);
        *m = bigger;
    }
    uint32_t hash = (uint32_t)str_hash(key);
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

static int32_t map_get(const Map *m, Str key) {
    uint32_t hash = (uint32_t)str_hash(key);
    Py_ssize_t j = hash & m->mask;
    while (m->slots[j].value >= 0) {
        if (m->slots[j].hash == hash && str_eq(m->slots[j].key, key)) return m->slots[j].value;
        j = (j + 1) & m->mask;
    }
    return -1;
}

/* ------------------------------------------------------------------ the scan */

typedef struct {
    Str id, guarantor, patient, latest_txn, state, stated_txn;
    int64_t cents;
    int32_t first, latest_day, stated_day;
    int32_t head;  /* the account's first row in `links` */
} Account;

typedef struct { int64_t source; int32_t next; } Link;  /* source: line offset, or -1 - override index */
typedef struct { Py_ssize_t line, start, length; } Flagged;

/* What the first pass keeps of a run of lines (one per thread; then merged into the first). */
typedef struct {
    Py_ssize_t from, to, lines;  /* byte offsets in the data; lines: how many it holds */
    Account *accounts; Py_ssize_t n_accounts, cap_accounts;
    Link *links; Py_ssize_t n_links, cap_links;
    Flagged *flagged; Py_ssize_t n_flagged, cap_flagged;  /* .line: counted from the part's first line */
    Map by_account;
    uint64_t *ids; Py_ssize_t n_ids, cap_ids;  /* every txn_id's hash: two alike send the file to the reference */
    Py_ssize_t last_account;  /* the account of the row before (ledgers come grouped by account) */
    int result;  /* 0, or why the part is not read: -1 memory, -2 not clean-shaped, -3 not UTF-8 */
} Part;

typedef struct {
    PyObject_HEAD
    Py_buffer view;
    const char *data;
    Py_ssize_t size, id_max_length, columns;
    int *role;  /* per column: the field it holds, or -1 */
    Part part;  /* the whole file's */
    Row *overrides; Py_ssize_t n_overrides, cap_overrides;
    char **owned; Py_ssize_t n_owned, cap_owned;  /* the accepted rows' texts */
} Scan;

#define FIELD_LIMIT 100000  /* below csv.field_size_limit()'s 131072 */

/* The fields of one line (without its end of line): 1 clean (the header's field count, every field the
 * rules read plain), 0 flagged, -1 not clean-shaped. */
static int split_line(const Scan *s, const char *p, Py_ssize_t n, Str *f) {
    for (int i = 0; i < N_FIELDS; i++) { f[i].p = p; f[i].n = 0; }
    Py_ssize_t i = 0, column = 0;
    int clean = 1;
    for (;;) {
        Str value;
        if (i < n && p[i] == '"') {
            Py_ssize_t start = ++i;
            for (;;) {
                const char *quote = memchr(p + i, '"', (size_t)(n - i));
                if (!quote) return -1;  /* the field goes on past the line */
                i = quote - p + 1;
                if (i < n && p[i] == '"') { clean = 0; i++; continue; }  /* "" inside: the csv module unescapes */
                break;
            }
            value.p = p + start; value.n = i - 1 - start;
            if (i < n && p[i] != ',') clean = 0;  /* text after the closing quote: the csv module says why */
            while (i < n && p[i] != ',') i++;
        } else {
            Py_ssize_t start = i;
            while (i < n && p[i] != ',') i++;
            value.p = p + start; value.n = i - start;
        }
        if (value.n >= FIELD_LIMIT) clean = 0;  /* the csv module refuses a field this long */
        if (column < s->columns && s->role[column] >= 0) {
            f[s->role[column]] = value;
            if (!plain(value)) clean = 0;
        }
        column++;
        if (i >= n) break;
        i++;  /* the comma */
    }
    return column == s->columns ? clean : 0;
}

static int add_row(Part *pt, const Row *r, int64_t source) {
    int added = 0;
    int32_t a;
    if (pt->last_account >= 0 && str_eq(pt->accounts[pt->last_account].id, r->account_id)) a = (int32_t)pt->last_account;
    else if ((a = map_put(&pt->by_account, r->account_id, (int32_t)pt->n_accounts, &added)) < -1) return -1;
    pt->last_account = a;
    if (added) {
        Account *bigger = grow(pt->accounts, &pt->cap_accounts, pt->n_accounts + 1, sizeof(Account));
        if (!bigger) return -1;
        pt->accounts = bigger;
        Account *fresh = &pt->accounts[pt->n_accounts++];
        memset(fresh, 0, sizeof *fresh);
        fresh->id = r->account_id;
        fresh->first = fresh->latest_day = fresh->stated_day = NO_DAY;
        fresh->head = -1;
    }
    Link *links = grow(pt->links, &pt->cap_links, pt->n_links + 1, sizeof(Link));
    if (!links) return -1;
    pt->links = links;
    Account *acc = &pt->accounts[a];
    links[pt->n_links].source = source;
    links[pt->n_links].next = acc->head;
    acc->head = (int32_t)pt->n_links++;
    /* AccountSummary.add */
    acc->cents += r->cents;
    int32_t when = r->service != NO_DAY ? r->service : r->posting;
    if (acc->first == NO_DAY || when < acc->first) acc->first = when;
    if (acc->latest_day == NO_DAY || r->posting > acc->latest_day
        || (r->posting == acc->latest_day && str_cmp(r->txn_id, acc->latest_txn) >= 0)) {
        acc->latest_day = r->posting; acc->latest_txn = r->txn_id;
        acc->guarantor = r->guarantor_id; acc->patient = r->patient_id;
    }
    if (r->state.n && (acc->stated_day == NO_DAY || r->posting > acc->stated_day
                       || (r->posting == acc->stated_day && str_cmp(r->txn_id, acc->stated_txn) >= 0))) {
        acc->stated_day = r->posting; acc->stated_txn = r->txn_id; acc->state = r->state;
    }
    return 0;
}

static int add_txn_id(Part *pt, Str id) {
    uint64_t *ids = grow(pt->ids, &pt->cap_ids, pt->n_ids + 1, sizeof(uint64_t));
    if (!ids) return -1;
    pt->ids = ids;
    ids[pt->n_ids++] = str_hash(id);
    return 0;
}

/* Whether two txn_ids have the same hash (the same id, or, once in a very long while, a collision:
 * either way the reference reader decides): a radix sort of the hashes, then neighbours compared. */
static int repeated_ids(Part *pt) {
    Py_ssize_t n = pt->n_ids;
    uint64_t *from = pt->ids, *to = PyMem_RawMalloc(((size_t)n + 1) * sizeof(uint64_t));
    Py_ssize_t *count = PyMem_RawMalloc(65536 * sizeof(Py_ssize_t));
    if (!to || !count) { PyMem_RawFree(to); PyMem_RawFree(count); PyErr_NoMemory(); return -1; }
    for (int shift = 0; shift < 64; shift += 16) {
        memset(count, 0, 65536 * sizeof(Py_ssize_t));
        for (Py_ssize_t i = 0; i < n; i++) count[(from[i] >> shift) & 0xffff]++;
        for (Py_ssize_t b = 0, at = 0; b < 65536; b++) { Py_ssize_t c = count[b]; count[b] = at; at += c; }
        for (Py_ssize_t i = 0; i < n; i++) to[count[(from[i] >> shift) & 0xffff]++] = from[i];
        uint64_t *swap = from; from = to; to = swap;
    }
    int repeated = 0;
    for (Py_ssize_t i = 1; i < n && !repeated; i++) repeated = from[i] == from[i - 1];
    pt->ids = from;  /* four passes: the sorted hashes are back in an array of ours */
    PyMem_RawFree(to);
    PyMem_RawFree(count);
    return repeated;
}

/* Every byte UTF-8 (the reference decodes the whole file) and no NUL. */
static int utf8_ok(const unsigned char *p, Py_ssize_t n) {
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

/* The first pass over one part: every line split, clean rows summed per account, the others kept for Python. */
static int first_pass(const Scan *s, Part *pt) {
    const char *p = s->data + pt->from, *end = s->data + pt->to;
    if (!utf8_ok((const unsigned char *)p, end - p)) return -3;
    int has_cr = memchr(p, '\r', (size_t)(end - p)) != NULL;  /* then each line is looked at for a lone one */
    Str f[N_FIELDS];
    Row r;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl ? nl : end;
        Py_ssize_t n = stop - p;
        if (n && p[n - 1] == '\r') n--;
        if (has_cr && memchr(p, '\r', (size_t)n)) return -2;  /* a lone CR ends a line for the reference reader */
        if (n) {
            int shape = split_line(s, p, n, f);
            if (shape < 0) return -2;
            if (shape && row_from_fields(f, s->id_max_length, &r)) {
                if (add_row(pt, &r, p - s->data) < 0 || add_txn_id(pt, r.txn_id) < 0) return -1;
            } else {
                Flagged *bigger = grow(pt->flagged, &pt->cap_flagged, pt->n_flagged + 1, sizeof(Flagged));
                if (!bigger) return -1;
                pt->flagged = bigger;
                pt->flagged[pt->n_flagged].line = pt->lines;
                pt->flagged[pt->n_flagged].start = p - s->data;
                pt->flagged[pt->n_flagged++].length = n;
            }
        }
        pt->lines++;
        p = nl ? nl + 1 : end;
    }
    return 0;
}

static void part_free(Part *pt) {
    PyMem_RawFree(pt->accounts); PyMem_RawFree(pt->links); PyMem_RawFree(pt->flagged); PyMem_RawFree(pt->ids);
    map_free(&pt->by_account);
    memset(pt, 0, sizeof *pt);
}

/* Later before earlier: does the row (day, txn) come at or after (on, at)? (AccountSummary.add's `>=`) */
static int at_or_after(int32_t day, Str txn, int32_t on, Str at) {
    return on == NO_DAY || day > on || (day == on && str_cmp(txn, at) >= 0);
}

/* `b`'s rows and accounts into `a` (b's lines come after a's). */
static int merge(Part *a, Part *b) {
    Py_ssize_t shift = a->n_links;
    Link *links = grow(a->links, &a->cap_links, a->n_links + b->n_links, sizeof(Link));
    uint64_t *ids = links ? grow(a->ids, &a->cap_ids, a->n_ids + b->n_ids, sizeof(uint64_t)) : NULL;
    Flagged *flagged = ids ? grow(a->flagged, &a->cap_flagged, a->n_flagged + b->n_flagged + 1, sizeof(Flagged)) : NULL;
    if (links) a->links = links;
    if (ids) a->ids = ids;
    if (!flagged) return -1;
    a->flagged = flagged;
    for (Py_ssize_t i = 0; i < b->n_links; i++) {
        a->links[shift + i] = b->links[i];
        if (b->links[i].next >= 0) a->links[shift + i].next += (int32_t)shift;
    }
    a->n_links += b->n_links;
    memcpy(a->ids + a->n_ids, b->ids, (size_t)b->n_ids * sizeof(uint64_t));
    a->n_ids += b->n_ids;
    for (Py_ssize_t i = 0; i < b->n_flagged; i++) {
        a->flagged[a->n_flagged] = b->flagged[i];
        a->flagged[a->n_flagged++].line += a->lines;
    }
    a->lines += b->lines;
    for (Py_ssize_t i = 0; i < b->n_accounts; i++) {
        Account *from = &b->accounts[i];
        int added;
        int32_t at = map_put(&a->by_account, from->id, (int32_t)a->n_accounts, &added);
        if (at < -1) return -1;
        int32_t head = from->head + (int32_t)shift;
        if (added) {
            Account *bigger = grow(a->accounts, &a->cap_accounts, a->n_accounts + 1, sizeof(Account));
            if (!bigger) return -1;
            a->accounts = bigger;
            a->accounts[a->n_accounts] = *from;
            a->accounts[a->n_accounts++].head = head;
            continue;
        }
        Account *to = &a->accounts[at];
        int32_t last = head;  /* b's rows of the account, then a's */
        while (a->links[last].next >= 0) last = a->links[last].next;
        a->links[last].next = to->head;
        to->head = head;
        to->cents += from->cents;
        if (from->first < to->first) to->first = from->first;
        if (at_or_after(from->latest_day, from->latest_txn, to->latest_day, to->latest_txn)) {
            to->latest_day = from->latest_day; to->latest_txn = from->latest_txn;
            to->guarantor = from->guarantor; to->patient = from->patient;
        }
        if (from->stated_day != NO_DAY && at_or_after(from->stated_day, from->stated_txn, to->stated_day, to->stated_txn)) {
            to->stated_day = from->stated_day; to->stated_txn = from->stated_txn; to->state = from->state;
        }
    }
    return 0;
}

static void *first_pass_thread(void *arg) {
    void **args = arg;
    Part *pt = args[1];
    pt->result = first_pass(args[0], pt);
    return NULL;
}

#define MAX_PARTS 8
#define PART_BYTES (4 << 20)  /* a part for another thread: no smaller than this */

/* The first pass on every processor: the file cut at line ends into parts, one thread each, merged in order. */
static int first_pass_parallel(Scan *s, Py_ssize_t parts) {
    if (parts <= 0) {  /* as many as processors, each part at least PART_BYTES */
        long processors = sysconf(_SC_NPROCESSORS_ONLN);
        parts = s->size / PART_BYTES + 1;
        if (parts > processors) parts = processors > 0 ? processors : 1;
    }
    if (parts > MAX_PARTS) parts = MAX_PARTS;
    Part pt[MAX_PARTS];
    pthread_t threads[MAX_PARTS];
    void *args[MAX_PARTS][2];
    int started[MAX_PARTS] = {0};
    memset(pt, 0, sizeof pt);
    Py_ssize_t from = 0;
    for (Py_ssize_t i = 0; i < parts; i++) {
        Py_ssize_t to = i == parts - 1 ? s->size : s->size / parts * (i + 1);
        if (to < from) to = from;
        const char *nl = to < s->size ? memchr(s->data + to, '\n', (size_t)(s->size - to)) : NULL;
        pt[i].from = from;
        pt[i].to = i == parts - 1 || !nl ? s->size : nl - s->data + 1;
        pt[i].last_account = -1;
        from = pt[i].to;
        if (map_init(&pt[i].by_account, (pt[i].to - pt[i].from) / 480 + 16) < 0) pt[i].result = -1;
    }
    for (Py_ssize_t i = 1; i < parts; i++) {
        args[i][0] = s; args[i][1] = &pt[i];
        if (!pt[i].result) started[i] = pthread_create(&threads[i], NULL, first_pass_thread, args[i]) == 0;
        if (!started[i] && !pt[i].result) pt[i].result = first_pass(s, &pt[i]);
    }
    if (!pt[0].result) pt[0].result = first_pass(s, &pt[0]);
    for (Py_ssize_t i = 1; i < parts; i++)
        if (started[i]) pthread_join(threads[i], NULL);
    int result = 0;
    for (Py_ssize_t i = 0; i < parts && !result; i++) result = pt[i].result;
    for (Py_ssize_t i = 1; i < parts && !result; i++) result = merge(&pt[0], &pt[i]);
    for (Py_ssize_t i = 1; i < parts; i++) part_free(&pt[i]);
    s->part = pt[0];
    return result;
}

static void Scan_dealloc(Scan *s) {
    if (s->data) PyBuffer_Release(&s->view);
    PyMem_RawFree(s->role);
    part_free(&s->part);
    PyMem_RawFree(s->overrides);
    for (Py_ssize_t i = 0; i < s->n_owned; i++) PyMem_RawFree(s->owned[i]);
    PyMem_RawFree(s->owned);
    Py_TYPE(s)->tp_free((PyObject *)s);
}

static PyTypeObject ScanType;

/* scan(data, roles, id_max_length, parts=0): roles[i] is the field column i holds (-1: not read); parts:
 * how many runs of lines the first pass cuts the data into (0: one per processor for a large file). */
static PyObject *scan(PyObject *module, PyObject *args) {
    (void)module;
    PyObject *data, *roles;
    Py_ssize_t id_max_length, parts = 0;
    if (!PyArg_ParseTuple(args, "OO!n|n", &data, &PyTuple_Type, &roles, &id_max_length, &parts)) return NULL;
    Scan *s = PyObject_New(Scan, &ScanType);
    if (!s) return NULL;
    memset((char *)s + sizeof(PyObject), 0, sizeof(Scan) - sizeof(PyObject));
    if (PyObject_GetBuffer(data, &s->view, PyBUF_SIMPLE) < 0) { s->data = NULL; Py_DECREF(s); return NULL; }
    s->data = s->view.buf;
    s->size = s->view.len;
    s->id_max_length = id_max_length;
    s->columns = PyTuple_GET_SIZE(roles);
    s->role = PyMem_RawMalloc((size_t)(s->columns ? s->columns : 1) * sizeof(int));
    if (!s->role) { Py_DECREF(s); return PyErr_NoMemory(); }
    for (Py_ssize_t i = 0; i < s->columns; i++) {
        s->role[i] = (int)PyLong_AsLong(PyTuple_GET_ITEM(roles, i));
        if (s->role[i] >= N_FIELDS) { PyErr_SetString(PyExc_ValueError, "no such field"); Py_DECREF(s); return NULL; }
    }
    if (PyErr_Occurred()) { Py_DECREF(s); return NULL; }
    int result;
    Py_BEGIN_ALLOW_THREADS
    result = first_pass_parallel(s, parts);
    Py_END_ALLOW_THREADS
    if (result == -1) { Py_DECREF(s); return PyErr_NoMemory(); }
    if (result == -2) { Py_DECREF(s); PyErr_SetString(NotClean, "a row the reference reader reads across lines"); return NULL; }
    if (result == -3) { Py_DECREF(s); PyErr_SetString(NotClean, "not UTF-8 text, or a NUL byte"); return NULL; }
    return (PyObject *)s;
}

static PyObject *Scan_flagged(Scan *s, PyObject *unused) {
    (void)unused;
    PyObject *list = PyList_New(s->part.n_flagged);
    if (!list) return NULL;
    for (Py_ssize_t i = 0; i < s->part.n_flagged; i++) {
        Flagged *g = &s->part.flagged[i];
        PyObject *item = Py_BuildValue("(nN)", g->line, PyUnicode_DecodeUTF8(s->data + g->start, g->length, "strict"));
        if (!item) { Py_DECREF(list); return NULL; }
        PyList_SET_ITEM(list, i, item);
    }
    return list;
}


static int own_text(Scan *s, PyObject *text, Str *out) {
    Py_ssize_t n;
    const char *utf8 = PyUnicode_AsUTF8AndSize(text, &n);
    if (!utf8) return -1;
    char **owned = grow(s->owned, &s->cap_owned, s->n_owned + 1, sizeof(char *));
    if (!owned) { no_memory(); return -1; }
    s->owned = owned;
    char *copy = PyMem_RawMalloc((size_t)(n ? n : 1));
    if (!copy) { PyErr_NoMemory(); return -1; }
    s->owned[s->n_owned++] = copy;
    memcpy(copy, utf8, (size_t)n);
    out->p = copy; out->n = n;
    return 0;
}

#define LARGEST_CENTS 1000000000000LL  /* ten integer digits: a million rows of them still fit in 64 bits */

/* accept(txn_id, account_id, patient_id, guarantor_id, txn_type, cents, posting, payer_type, payer_id, rank,
 *        reference, claim_id, resp, adj_code, reversal_of, service, state): a flagged row `parse_row`
 * accepted, as it reads it: texts "" where None, resp -1 where none, dates as days since 1970-01-01
 * (service: None where none). */
static PyObject *Scan_accept(Scan *s, PyObject *args) {
    PyObject *text[12], *service;
    const char *type_name = NULL;
    long long cents, resp;
    int posting, rank;
    if (!PyArg_ParseTuple(args, "UUUUsLiUUiUULUUOU", &text[0], &text[1], &text[2], &text[3], &type_name, &cents,
                          &posting, &text[4], &text[5], &rank, &text[6], &text[7], &resp, &text[8], &text[9],
                          &service, &text[10]))
        return NULL;
    Row r;
    memset(&r, 0, sizeof r);
    Str *targets[] = {&r.txn_id, &r.account_id, &r.patient_id, &r.guarantor_id, NULL, &r.payer_id, &r.reference,
                      &r.claim_id, &r.adj_code, &r.reversal_of, &r.state};
    Str payer_type;
    for (int i = 0; i < 11; i++)
        if (own_text(s, text[i], targets[i] ? targets[i] : &payer_type) < 0) return NULL;
    Str type = {type_name, (Py_ssize_t)strlen(type_name)};
    r.type = (int8_t)lookup_code(type, TXN_TYPES, 8);
    r.ptype = (int8_t)lookup_code(payer_type, PAYER_TYPES, 6);
    if (!r.type || (payer_type.n && !r.ptype)) { PyErr_SetString(PyExc_ValueError, "not a row parse_row gives"); return NULL; }
    if (cents > LARGEST_CENTS || cents < -LARGEST_CENTS || resp > LARGEST_CENTS) {
        PyErr_SetString(NotClean, "an amount of more than ten integer digits");
        return NULL;
    }
    r.cents = cents; r.resp = resp; r.posting = posting; r.rank = (int8_t)rank;
    r.service = service == Py_None ? NO_DAY : (int32_t)PyLong_AsLong(service);
    if (PyErr_Occurred()) return NULL;
    Row *rows = grow(s->overrides, &s->cap_overrides, s->n_overrides + 1, sizeof(Row));
    if (!rows) return no_memory();
    s->overrides = rows;
    rows[s->n_overrides] = r;
    if (add_row(&s->part, &r, -1 - s->n_overrides) < 0) return no_memory();
    s->n_overrides++;
    Py_RETURN_NONE;
}

/* check_ids(ids): add the flagged rows' txn_ids; True when any txn_id of the file appears twice. */
static PyObject *Scan_check_ids(Scan *s, PyObject *ids) {
    if (!PyList_Check(ids)) { PyErr_SetString(PyExc_TypeError, "a list of str"); return NULL; }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(ids); i++) {
        Str id;
        if (own_text(s, PyList_GET_ITEM(ids, i), &id) < 0 || add_txn_id(&s->part, id) < 0) return no_memory();
    }
    int repeated = repeated_ids(&s->part);
    return repeated < 0 ? NULL : PyBool_FromLong(repeated);
}

/* ------------------------------------------------------------------ the rules (split.py, detection.py) */

typedef struct { int8_t ptype; Str id; } Payer;
static const Str NONE = {"", 0};

static Payer payer_of(const Row *r) {
    Payer p = {r->ptype, r->ptype == P_PATIENT ? NONE : r->payer_id};
    return p;
}
static int payer_eq(Payer a, Payer b) { return a.ptype == b.ptype && str_eq(a.id, b.id); }
static const Payer PATIENT = {P_PATIENT, {"", 0}};

typedef struct {
    PyObject *days_by_payer_id, *days_by_payer_type, *days_by_state, *floors;
    long long patient_default_days, false_credit_days, floor_default, tier2, tier3;
    int offset;
} Settings;

typedef struct {
    const char *action, *reason, *payee_type;  /* payee_type NULL: null */
    Str payee_id, target;                      /* .p NULL: null */
    int64_t cents;
    int32_t due;                               /* NO_DAY: null */
} Line;

typedef struct { Payer payer; int64_t amount; } Available;
typedef struct { Payer payer; int rank; } Rank;
typedef struct { int32_t first; Str account; int64_t remaining; } Debit;

typedef struct {
    const Settings *st;
    int32_t today;
    Str guarantor, state;
    Row *txns; Py_ssize_t n;
    Row **pay; Py_ssize_t n_pay;
    Available *av; Py_ssize_t n_av;
    Rank *rk; Py_ssize_t n_rk;
    int64_t remaining;
    Line *lines; Py_ssize_t n_lines, cap_lines;
    int failed;  /* a Python error is set */
} Split;

static int order_cmp(const Row *a, const Row *b) {
    if (a->posting != b->posting) return a->posting < b->posting ? -1 : 1;
    return str_cmp(a->txn_id, b->txn_id);
}
static int order_qsort(const void *a, const void *b) { return order_cmp(a, b); }

/* A days setting from one of the tables (the dict `table`), or `fallback`. */
static long long days_in(Split *sp, PyObject *table, Str key, long long fallback) {
    if (sp->failed) return fallback;
    PyObject *k = PyUnicode_DecodeUTF8(key.p, key.n, "strict");
    if (!k) { sp->failed = 1; return fallback; }
    PyObject *v = PyDict_GetItemWithError(table, k);
    Py_DECREF(k);
    if (!v) { if (PyErr_Occurred()) sp->failed = 1; return fallback; }
    long long value = PyLong_AsLongLong(v);
    if (value == -1 && PyErr_Occurred()) { sp->failed = 1; return fallback; }
    return value;
}

static int has_in(Split *sp, PyObject *table, Str key) {
    PyObject *k = PyUnicode_DecodeUTF8(key.p, key.n, "strict");
    if (!k) { sp->failed = 1; return 0; }
    int found = PyDict_Contains(table, k);
    Py_DECREF(k);
    if (found < 0) { sp->failed = 1; return 0; }
    return found;
}

static int32_t days_after(Split *sp, int32_t day, long long days) {
    long long when = (long long)day + days;
    if (when > MAX_DAY || when < MIN_DAY) {
        if (!sp->failed) PyErr_SetString(NotClean, "a due date past 9999-12-31: the reference says so");
        sp->failed = 1;
        return day;
    }
    return (int32_t)when;
}

static long long payer_days(Split *sp, Payer p) {
    if (has_in(sp, sp->st->days_by_payer_id, p.id)) return days_in(sp, sp->st->days_by_payer_id, p.id, 60);
    Str type = {PAYER_TYPES[p.ptype], (Py_ssize_t)strlen(PAYER_TYPES[p.ptype])};
    return days_in(sp, sp->st->days_by_payer_type, type, 60);
}

static int32_t refund_due(Split *sp, Payer p) {
    if (payer_eq(p, PATIENT))
        return days_after(sp, sp->today, days_in(sp, sp->st->days_by_state, sp->state, sp->st->patient_default_days));
    return days_after(sp, sp->today, payer_days(sp, p));
}

static Line *add_line(Split *sp, const char *action, const char *reason, int64_t cents, int32_t due) {
    Line *lines = grow(sp->lines, &sp->cap_lines, sp->n_lines + 1, sizeof(Line));
    if (!lines) { sp->failed = 1; return NULL; }
    sp->lines = lines;
    Line *line = &lines[sp->n_lines++];
    memset(line, 0, sizeof *line);
    line->action = action; line->reason = reason; line->cents = cents; line->due = due;
    return line;
}

static void set_payee(Split *sp, Line *line, Payer p) {
    if (payer_eq(p, PATIENT)) { line->payee_type = "PATIENT"; line->payee_id = sp->guarantor; }
    else { line->payee_type = PAYER_TYPES[p.ptype]; line->payee_id = p.id; }
    if (!line->payee_id.p) line->payee_id.p = "";
}

static Available *available(Split *sp, Payer p) {  /* a defaultdict: reading adds the payer at 0 */
    for (Py_ssize_t i = 0; i < sp->n_av; i++)
        if (payer_eq(sp->av[i].payer, p)) return &sp->av[i];
    sp->av[sp->n_av].payer = p;
    sp->av[sp->n_av].amount = 0;
    return &sp->av[sp->n_av++];
}

static int rank_of(Split *sp, Payer p) {
    for (Py_ssize_t i = 0; i < sp->n_rk; i++)
        if (payer_eq(sp->rk[i].payer, p)) return sp->rk[i].rank;
    return 1;
}

static int64_t take(Split *sp, int64_t wanted) {
    int64_t amount = wanted < sp->remaining ? wanted : sp->remaining;
    if (amount < 0) amount = 0;
    sp->remaining -= amount;
    return amount;
}

static void correct(Split *sp, const char *reason, Payer p, int64_t wanted) {
    int64_t amount = take(sp, wanted);
    if (amount > 0) {
        Line *line = add_line(sp, "CORRECT", reason, amount, days_after(sp, sp->today, sp->st->false_credit_days));
        if (line) set_payee(sp, line, p);
    }
}

static void refund(Split *sp, const char *reason, Payer p, int64_t wanted, int32_t due) {
    Available *av = available(sp, p);
    int64_t ceiling = av->amount > 0 ? av->amount : 0;
    int64_t amount = take(sp, wanted < ceiling ? wanted : ceiling);
    if (amount > 0) {
        available(sp, p)->amount -= amount;
        Line *line = add_line(sp, "REFUND", reason, amount, due != NO_DAY ? due : refund_due(sp, p));
        if (line) set_payee(sp, line, p);
    }
}

static int same_posting(const Row *a, const Row *b) {
    return payer_eq(payer_of(a), payer_of(b)) && a->cents == b->cents && str_eq(a->reference, b->reference)
           && str_eq(a->claim_id, b->claim_id);
}
static int same_adjustment(const Row *a, const Row *b) {
    return payer_eq(payer_of(a), payer_of(b)) && str_eq(a->adj_code, b->adj_code) && a->cents == b->cents
           && str_eq(a->claim_id, b->claim_id);
}
static int same_payment(const Row *a, const Row *b) {
    return payer_eq(payer_of(a), payer_of(b)) && a->cents == b->cents && str_eq(a->claim_id, b->claim_id);
}

static void duplicate_postings(Split *sp) {
    char *extra = PyMem_RawCalloc((size_t)sp->n_pay + 1, 1);
    if (!extra) { PyErr_NoMemory(); sp->failed = 1; return; }
    for (Py_ssize_t i = 0; i < sp->n_pay; i++) {
        const Row *t = sp->pay[i];
        if (!t->reference.n || extra[i]) continue;
        int first = 1;
        for (Py_ssize_t j = 0; j < i && first; j++)
            if (sp->pay[j]->reference.n && same_posting(sp->pay[j], t)) first = 0;
        if (!first) continue;
        for (Py_ssize_t k = i + 1; k < sp->n_pay; k++) {
            const Row *copy = sp->pay[k];
            if (!copy->reference.n || !same_posting(copy, t)) continue;
            extra[k] = 1;
            correct(sp, "DUPLICATE_POSTING", payer_of(copy), -copy->cents);
            available(sp, payer_of(copy))->amount += copy->cents;  /* the extra copy is not money paid */
        }
    }
    Py_ssize_t kept = 0;
    for (Py_ssize_t i = 0; i < sp->n_pay; i++)
        if (!extra[i]) sp->pay[kept++] = sp->pay[i];
    sp->n_pay = kept;
    PyMem_RawFree(extra);
}

static int is_credit_adjustment(const Row *t) { return t->type == T_ADJUSTMENT && t->cents < 0; }

static void duplicate_adjustments(Split *sp) {
    for (Py_ssize_t i = 0; i < sp->n; i++) {
        const Row *t = &sp->txns[i];
        if (!is_credit_adjustment(t)) continue;
        int first = 1;
        for (Py_ssize_t j = 0; j < i && first; j++)
            if (is_credit_adjustment(&sp->txns[j]) && same_adjustment(&sp->txns[j], t)) first = 0;
        if (!first) continue;
        for (Py_ssize_t k = i + 1; k < sp->n; k++)
            if (is_credit_adjustment(&sp->txns[k]) && same_adjustment(&sp->txns[k], t))
                correct(sp, "DUPLICATE_ADJUSTMENT", payer_of(&sp->txns[k]), -sp->txns[k].cents);
    }
}

static void duplicate_payments(Split *sp) {
    Str *seen = PyMem_RawMalloc(((size_t)sp->n_pay + 1) * sizeof(Str));
    if (!seen) { PyErr_NoMemory(); sp->failed = 1; return; }
    for (Py_ssize_t i = 0; i < sp->n_pay; i++) {
        const Row *t = sp->pay[i];
        if (!t->reference.n) continue;
        int first = 1;
        for (Py_ssize_t j = 0; j < i && first; j++)
            if (sp->pay[j]->reference.n && same_payment(sp->pay[j], t)) first = 0;
        if (!first) continue;
        Py_ssize_t n_seen = 0;
        seen[n_seen++] = t->reference;
        for (Py_ssize_t k = i + 1; k < sp->n_pay; k++) {
            const Row *later = sp->pay[k];
            if (!later->reference.n || !same_payment(later, t)) continue;
            int known = 0;
            for (Py_ssize_t r = 0; r < n_seen && !known; r++) known = str_eq(seen[r], later->reference);
            if (known) continue;
            seen[n_seen++] = later->reference;
            refund(sp, "DUPLICATE_PAYMENT", payer_of(later), -later->cents, NO_DAY);
        }
    }
    PyMem_RawFree(seen);
}

/* The payers with money of theirs on the account, in the order they first appeared (not the patient). */
static Py_ssize_t paid_insurers(Split *sp, Payer *out) {
    Py_ssize_t n = 0;
    for (Py_ssize_t i = 0; i < sp->n_av; i++)
        if (!payer_eq(sp->av[i].payer, PATIENT) && sp->av[i].amount > 0) out[n++] = sp->av[i].payer;
    return n;
}

static const Row *first_payment(Split *sp, Payer p) {
    for (Py_ssize_t i = 0; i < sp->n_pay; i++)
        if (payer_eq(payer_of(sp->pay[i]), p)) return sp->pay[i];
    return NULL;
}

static const Row *last_payment(Split *sp, Payer p) {
    for (Py_ssize_t i = sp->n_pay - 1; i >= 0; i--)
        if (payer_eq(payer_of(sp->pay[i]), p)) return sp->pay[i];
    return NULL;
}

static void other_payer_primary(Split *sp, Payer *paid, Payer *scratch) {
    Py_ssize_t n_paid = 0, n_all = paid_insurers(sp, scratch);
    for (Py_ssize_t i = 0; i < n_all; i++)
        if (first_payment(sp, scratch[i])) paid[n_paid++] = scratch[i];
    for (Py_ssize_t i = 0; i < n_paid; i++) {
        Payer medicare = paid[i];
        if (medicare.ptype != P_MEDICARE) continue;
        int rank = rank_of(sp, medicare);
        int32_t other_paid_on = NO_DAY;
        for (Py_ssize_t j = 0; j < n_paid; j++) {
            Payer p = paid[j];
            int r = rank_of(sp, p);
            if (p.ptype == P_MEDICARE || !(r < rank || (r == rank && rank == 1))) continue;
            int32_t on = first_payment(sp, p)->posting;
            if (other_paid_on == NO_DAY || on < other_paid_on) other_paid_on = on;
        }
        if (other_paid_on == NO_DAY) continue;
        int32_t due = refund_due(sp, medicare);
        int32_t by_other = days_after(sp, other_paid_on, payer_days(sp, medicare));
        refund(sp, "MSP_OTHER_PRIMARY", medicare, available(sp, medicare)->amount, by_other < due ? by_other : due);
    }
    /* rank one payers other than Medicare, by their first payment; all but the first, latest payment first */
    Py_ssize_t n_one = 0;
    n_all = paid_insurers(sp, scratch);
    for (Py_ssize_t i = 0; i < n_all; i++)
        if (scratch[i].ptype != P_MEDICARE && rank_of(sp, scratch[i]) == 1 && first_payment(sp, scratch[i]))
            paid[n_one++] = scratch[i];
    for (Py_ssize_t i = 1; i < n_one; i++)
        for (Py_ssize_t j = i; j > 0 && order_cmp(first_payment(sp, paid[j]), first_payment(sp, paid[j - 1])) < 0; j--) {
            Payer swap = paid[j]; paid[j] = paid[j - 1]; paid[j - 1] = swap;
        }
    for (Py_ssize_t i = 2; i < n_one; i++)
        for (Py_ssize_t j = i; j > 1 && order_cmp(last_payment(sp, paid[j]), last_payment(sp, paid[j - 1])) > 0; j--) {
            Payer swap = paid[j]; paid[j] = paid[j - 1]; paid[j - 1] = swap;
        }
    for (Py_ssize_t i = 1; i < n_one; i++)
        refund(sp, "COB_ERROR", paid[i], available(sp, paid[i])->amount, NO_DAY);
}

static void patient_overpayment(Split *sp) {
    int64_t responsibility = 0;
    for (Py_ssize_t i = 0; i < sp->n_pay; i++)
        if (!payer_eq(payer_of(sp->pay[i]), PATIENT) && sp->pay[i]->resp >= 0) responsibility = sp->pay[i]->resp;
    refund(sp, "PATIENT_OVERPAYMENT", PATIENT, available(sp, PATIENT)->amount - responsibility, NO_DAY);
}

/* payer_overpayment's order, descending: (rank, the last payment's (posting_date, txn_id)) */
static int overpayment_cmp(Split *sp, Payer a, Payer b) {
    int ra = rank_of(sp, a), rb = rank_of(sp, b);
    if (ra != rb) return ra < rb ? -1 : 1;
    const Row *la = last_payment(sp, a), *lb = last_payment(sp, b);
    if (!la || !lb) return la ? 1 : lb ? -1 : 0;
    return order_cmp(la, lb);
}

static void payer_overpayment(Split *sp, Payer *paid) {
    Py_ssize_t n = paid_insurers(sp, paid);
    for (Py_ssize_t i = 1; i < n; i++)  /* stable: equal keys keep their order, as sorted(reverse=True) does */
        for (Py_ssize_t j = i; j > 0 && overpayment_cmp(sp, paid[j], paid[j - 1]) > 0; j--) {
            Payer swap = paid[j]; paid[j] = paid[j - 1]; paid[j - 1] = swap;
        }
    for (Py_ssize_t i = 0; i < n; i++)
        refund(sp, "PAYER_OVERPAYMENT", paid[i], available(sp, paid[i])->amount, NO_DAY);
}

static void unexplained(Split *sp) {
    int64_t amount = take(sp, sp->remaining);
    if (amount > 0) add_line(sp, "REVIEW", "UNEXPLAINED", amount, days_after(sp, sp->today, sp->st->false_credit_days));
}

/* ------------------------------------------------------------------ the cases, as `refunds detect` writes them */

typedef struct { char *p; Py_ssize_t n, cap; int failed; } Out;

static void put(Out *o, const char *text, Py_ssize_t n) {
    if (o->failed) return;
    char *bigger = grow(o->p, &o->cap, o->n + n, 1);
    if (!bigger) { o->failed = 1; return; }
    o->p = bigger;
    memcpy(o->p + o->n, text, (size_t)n);
    o->n += n;
}
static void puts_(Out *o, const char *text) { put(o, text, (Py_ssize_t)strlen(text)); }

/* json.dumps of a str (ensure_ascii): the text is UTF-8 */
static void put_json_str(Out *o, Str s) {
    static const char hex[] = "0123456789abcdef";
    char buf[16];
    puts_(o, "\"");
    const unsigned char *p = (const unsigned char *)s.p;
    Py_ssize_t i = 0, plain_from = 0;
    while (i < s.n) {
        unsigned char c = p[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') { i++; continue; }
        put(o, s.p + plain_from, i - plain_from);
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
        if (named) { puts_(o, named); continue; }
        uint32_t units[2] = {cp, 0};
        int n_units = 1;
        if (cp > 0xffff) { cp -= 0x10000; units[0] = 0xd800 | (cp >> 10); units[1] = 0xdc00 | (cp & 0x3ff); n_units = 2; }
        for (int u = 0; u < n_units; u++) {
            snprintf(buf, sizeof buf, "\\u%c%c%c%c", hex[(units[u] >> 12) & 15], hex[(units[u] >> 8) & 15],
                     hex[(units[u] >> 4) & 15], hex[units[u] & 15]);
            puts_(o, buf);
        }
    }
    put(o, s.p + plain_from, s.n - plain_from);
    puts_(o, "\"");
}

static void put_money(Out *o, int64_t cents) {
    char buf[32];
    uint64_t magnitude = cents < 0 ? (uint64_t)0 - (uint64_t)cents : (uint64_t)cents;
    snprintf(buf, sizeof buf, "\"%s%llu.%02llu\"", cents < 0 ? "-" : "", (unsigned long long)(magnitude / 100),
             (unsigned long long)(magnitude % 100));
    puts_(o, buf);
}

static void iso_date(int32_t day, char out[11]) {
    int y, m, d;
    civil_from_days(day, &y, &m, &d);  /* 0001-01-01 to 9999-12-31: days_after keeps to them */
    int parts[3][2] = {{y / 100, y % 100}, {m, -1}, {d, -1}};
    char *at = out;
    for (int i = 0; i < 3; i++) {
        for (int k = 0; k < 2 && parts[i][k] >= 0; k++) { *at++ = (char)('0' + parts[i][k] / 10 % 10); *at++ = (char)('0' + parts[i][k] % 10); }
        if (i < 2) *at++ = '-';
    }
    *at = 0;
}

static void put_date(Out *o, int32_t day) {
    if (day == NO_DAY) { puts_(o, "null"); return; }
    char buf[16] = "\"";
    iso_date(day, buf + 1);
    strcat(buf, "\"");
    puts_(o, buf);
}

static void put_optional(Out *o, const char *text) {
    if (!text) { puts_(o, "null"); return; }
    Str s = {text, (Py_ssize_t)strlen(text)};
    put_json_str(o, s);
}

static void put_optional_str(Out *o, Str s) {
    if (!s.p) puts_(o, "null");
    else put_json_str(o, s);
}

/* detection.case_id_for(account_id, episode_start) */
static void case_id(Str account, int32_t start, char out[20]) {
    static const char hex[] = "0123456789ABCDEF";
    unsigned char digest[32];
    char date[11];
    iso_date(start, date);
    Py_ssize_t n = account.n + 11;
    unsigned char small[256], *key = n <= (Py_ssize_t)sizeof small ? small : PyMem_RawMalloc((size_t)n);
    if (!key) { memset(out, 0, 20); return; }
    memcpy(key, account.p, (size_t)account.n);
    key[account.n] = '|';
    memcpy(key + account.n + 1, date, 10);
    sha256(key, (size_t)n, digest);
    if (key != small) PyMem_RawFree(key);
    memcpy(out, "CB-", 3);
    for (int i = 0; i < 8; i++) { out[3 + 2 * i] = hex[digest[i] >> 4]; out[4 + 2 * i] = hex[digest[i] & 15]; }
    out[19] = 0;
}

static int32_t episode_start(Row *rows, Py_ssize_t n) {
    qsort(rows, (size_t)n, sizeof(Row), order_qsort);
    int64_t running = 0;
    int32_t start = NO_DAY;
    for (Py_ssize_t i = 0; i < n; i++) {
        int was_negative = running < 0;
        running += rows[i].cents;
        if (running < 0 && !was_negative) start = rows[i].posting;
        else if (running >= 0) start = NO_DAY;
    }
    return start;
}

/* split.cancel_reversals: each REVERSAL netted into the row it cancels (orphans stay). */
static Py_ssize_t cancel_reversals(const Row *rows, Py_ssize_t n, Row *out) {
    Py_ssize_t kept = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        const Row *t = &rows[i];
        if (t->type == T_REVERSAL) {
            int found = 0;
            for (Py_ssize_t j = 0; j < n && !found; j++)
                found = rows[j].type != T_REVERSAL && str_eq(rows[j].txn_id, t->reversal_of);
            if (!found) out[kept++] = *t;
            continue;
        }
        Row netted = *t;
        for (Py_ssize_t j = 0; j < n; j++)
            if (rows[j].type == T_REVERSAL && str_eq(rows[j].reversal_of, t->txn_id)) netted.cents += rows[j].cents;
        if (netted.cents != 0) out[kept++] = netted;
    }
    return kept;
}

typedef struct { Str guarantor; Debit *debits; Py_ssize_t n; } Pool;

/* One account in credit: its lines (split, then offsets and holds), as a JSON line. */
static int detect_account(Split *sp, const Account *acc, Row *rows, Py_ssize_t n, Row *work, Row **pay,
                          Payer *paid, Payer *scratch, Available *av, Rank *rk, Pool *pool, Out *o) {
    sp->guarantor = acc->guarantor;
    sp->state = acc->state.p ? acc->state : NONE;
    sp->n = cancel_reversals(rows, n, work);
    sp->txns = work;
    qsort(work, (size_t)sp->n, sizeof(Row), order_qsort);
    sp->pay = pay; sp->n_pay = 0;
    sp->av = av; sp->n_av = 0;
    sp->rk = rk; sp->n_rk = 0;
    sp->n_lines = 0;
    sp->remaining = -acc->cents;
    for (Py_ssize_t i = 0; i < sp->n; i++) {
        Row *t = &work[i];
        Payer p = payer_of(t);
        if (t->type == T_PAYMENT) { pay[sp->n_pay++] = t; available(sp, p)->amount -= t->cents; }
        else if ((t->type == T_REFUND || t->type == T_RECOUPMENT) && t->ptype) available(sp, p)->amount -= t->cents;
        if (t->ptype && t->ptype != P_PATIENT) {
            Py_ssize_t r = 0;
            while (r < sp->n_rk && !payer_eq(rk[r].payer, p)) r++;
            if (r == sp->n_rk) { rk[r].payer = p; rk[r].rank = 0; sp->n_rk++; }
            if (t->rank && (rk[r].rank == 0 || t->rank < rk[r].rank)) rk[r].rank = t->rank;
        }
    }
    for (Py_ssize_t r = 0; r < sp->n_rk; r++)
        if (rk[r].rank == 0) rk[r].rank = 1;  /* a missing coverage_rank counts as 1 when no row has one */
    duplicate_postings(sp);
    duplicate_adjustments(sp);
    duplicate_payments(sp);
    other_payer_primary(sp, paid, scratch);
    patient_overpayment(sp);
    payer_overpayment(sp, paid);
    unexplained(sp);
    if (sp->failed) return -1;

    /* detection.offsets_and_holds: patient refunds first pay the guarantor's other debts, small rests wait */
    Py_ssize_t split_lines = sp->n_lines;
    long long floor = days_in(sp, sp->st->floors, sp->state, sp->st->floor_default);
    for (Py_ssize_t i = 0; i < split_lines && !sp->failed; i++) {
        Line line = sp->lines[i];
        if (strcmp(line.action, "REFUND") != 0 || !line.payee_type || strcmp(line.payee_type, "PATIENT") != 0) {
            Line *kept = add_line(sp, line.action, line.reason, line.cents, line.due);
            if (kept) *kept = line;
            continue;
        }
        int64_t amount = line.cents;
        if (pool && sp->st->offset) {
            for (Py_ssize_t d = 0; d < pool->n && amount > 0; d++) {
                Debit *debit = &pool->debits[d];
                if (debit->remaining <= 0) continue;
                int64_t part = amount < debit->remaining ? amount : debit->remaining;
                debit->remaining -= part;
                amount -= part;
                Line *offset = add_line(sp, "OFFSET", line.reason, part, line.due);
                if (offset) { offset->payee_type = "PATIENT"; offset->payee_id = line.payee_id; offset->target = debit->account; }
            }
        }
        if (amount <= 0) continue;
        Line *rest = amount < floor ? add_line(sp, "HOLD", line.reason, amount, NO_DAY)
                                    : add_line(sp, "REFUND", line.reason, amount, line.due);
        if (rest) { rest->payee_type = "PATIENT"; rest->payee_id = line.payee_id; }
    }
    if (sp->failed) return -1;

    int64_t refund_total = 0;
    int32_t due = NO_DAY;
    for (Py_ssize_t i = split_lines; i < sp->n_lines; i++) {
        if (strcmp(sp->lines[i].action, "REFUND") == 0) refund_total += sp->lines[i].cents;
        if (sp->lines[i].due != NO_DAY && (due == NO_DAY || sp->lines[i].due < due)) due = sp->lines[i].due;
    }
    int tier = refund_total <= 0 ? 0 : refund_total < sp->st->tier2 ? 1 : refund_total < sp->st->tier3 ? 2 : 3;
    char id[20], buf[64];
    case_id(acc->id, episode_start(rows, n), id);
    puts_(o, "{\"case_id\": \""); puts_(o, id);
    puts_(o, "\", \"account_id\": "); put_json_str(o, acc->id);
    puts_(o, ", \"patient_id\": "); put_json_str(o, acc->patient);
    puts_(o, ", \"guarantor_id\": "); put_json_str(o, acc->guarantor);
    puts_(o, ", \"credit\": "); put_money(o, -acc->cents);
    puts_(o, ", \"identified_on\": "); put_date(o, sp->today);
    puts_(o, ", \"due_date\": "); put_date(o, due);
    snprintf(buf, sizeof buf, ", \"tier\": %d, \"lines\": [", tier);
    puts_(o, buf);
    for (Py_ssize_t i = split_lines; i < sp->n_lines; i++) {
        Line *line = &sp->lines[i];
        if (i > split_lines) puts_(o, ", ");
        puts_(o, "{\"action\": "); put_optional(o, line->action);
        puts_(o, ", \"reason\": "); put_optional(o, line->reason);
        puts_(o, ", \"payee_type\": "); put_optional(o, line->payee_type);
        puts_(o, ", \"payee_id\": "); put_optional_str(o, line->payee_id);
        puts_(o, ", \"amount\": "); put_money(o, line->cents);
        puts_(o, ", \"due_date\": "); put_date(o, line->due);
        puts_(o, ", \"target_account_id\": "); put_optional_str(o, line->target);
        puts_(o, "}");
    }
    puts_(o, "]}\n");
    return o->failed ? -1 : 0;
}

static Account *sort_accounts;  /* qsort has no context argument in C11; detect holds the GIL throughout */
static int by_account_id(const void *a, const void *b) {
    return str_cmp(sort_accounts[*(const int32_t *)a].id, sort_accounts[*(const int32_t *)b].id);
}

static int debit_order(const void *a, const void *b) {
    const Debit *x = a, *y = b;
    if (x->first != y->first) return x->first < y->first ? -1 : 1;
    return str_cmp(x->account, y->account);
}

static int load_settings(PyObject *t, Settings *st) {
    PyObject *offset;
    if (!PyArg_ParseTuple(t, "O!O!O!LLO!LLLO", &PyDict_Type, &st->days_by_payer_id, &PyDict_Type,
                          &st->days_by_payer_type, &PyDict_Type, &st->days_by_state, &st->patient_default_days,
                          &st->false_credit_days, &PyDict_Type, &st->floors, &st->floor_default, &st->tier2, &st->tier3,
                          &offset))
        return -1;
    st->offset = PyObject_IsTrue(offset);
    return st->offset < 0 ? -1 : 0;
}

/* The rows of one account, read again from the file (or as Python accepted them). */
static Py_ssize_t rows_of(Scan *s, const Account *acc, Row **rows, Py_ssize_t *cap) {
    Py_ssize_t n = 0;
    Str f[N_FIELDS];
    for (int32_t link = acc->head; link >= 0; link = s->part.links[link].next) {
        Row *bigger = grow(*rows, cap, n + 1, sizeof(Row));
        if (!bigger) return -1;
        *rows = bigger;
        int64_t source = s->part.links[link].source;
        if (source < 0) { bigger[n++] = s->overrides[-1 - source]; continue; }
        const char *p = s->data + source, *nl = memchr(p, '\n', (size_t)(s->size - source));
        Py_ssize_t len = (nl ? nl : s->data + s->size) - p;
        if (len && p[len - 1] == '\r') len--;
        if (split_line(s, p, len, f) != 1 || !row_from_fields(f, s->id_max_length, &bigger[n])) {
            PyErr_SetString(PyExc_SystemError, "a clean row read differently the second time");
            return -1;
        }
        n++;
    }
    return n;
}

/* detect(today, settings) -> (JSON lines of the cases, count): every account in credit, by account id. */
static PyObject *Scan_detect(Scan *s, PyObject *args) {
    int today;
    PyObject *settings_tuple;
    Settings st;
    if (!PyArg_ParseTuple(args, "iO!", &today, &PyTuple_Type, &settings_tuple) || load_settings(settings_tuple, &st) < 0)
        return NULL;
    PyObject *result = NULL;
    int32_t *credit = PyMem_RawMalloc(((size_t)s->part.n_accounts + 1) * sizeof(int32_t));
    Pool *pools = NULL;
    Debit *debits = NULL;
    Map guarantors = {0};
    Row *rows = NULL, *work = NULL, **pay = NULL;
    Payer *paid = NULL, *scratch = NULL;
    Available *av = NULL;
    Rank *rk = NULL;
    Py_ssize_t cap_rows = 0, cap_work = 0, n_credit = 0, n_pools = 0, n_debits = 0;
    Split sp;
    memset(&sp, 0, sizeof sp);
    sp.st = &st;
    sp.today = today;
    Out o = {0};
    if (!credit || map_init(&guarantors, 64) < 0) goto fail;
    for (Py_ssize_t a = 0; a < s->part.n_accounts; a++)
        if (s->part.accounts[a].cents < 0) credit[n_credit++] = (int32_t)a;
    sort_accounts = s->part.accounts;
    qsort(credit, (size_t)n_credit, sizeof(int32_t), by_account_id);
    /* the guarantors' pools of debts (detection.DebitPool), oldest service first */
    for (Py_ssize_t c = 0; c < n_credit; c++) {
        int added;
        if (map_put(&guarantors, s->part.accounts[credit[c]].guarantor, (int32_t)n_pools, &added) < -1) goto fail;
        if (added) n_pools++;
    }
    pools = PyMem_RawCalloc((size_t)n_pools + 1, sizeof(Pool));
    debits = PyMem_RawMalloc(((size_t)s->part.n_accounts + 1) * sizeof(Debit));
    if (!pools || !debits) { PyErr_NoMemory(); goto fail; }
    int32_t *pool_of = PyMem_RawMalloc(((size_t)s->part.n_accounts + 1) * sizeof(int32_t));
    if (!pool_of) { PyErr_NoMemory(); goto fail; }
    for (Py_ssize_t a = 0; a < s->part.n_accounts; a++) {
        pool_of[a] = s->part.accounts[a].cents > 0 ? map_get(&guarantors, s->part.accounts[a].guarantor) : -1;
        if (pool_of[a] >= 0) pools[pool_of[a]].n++;
    }
    for (Py_ssize_t p = 0, at = 0; p < n_pools; p++) { pools[p].debits = debits + at; at += pools[p].n; pools[p].n = 0; }
    for (Py_ssize_t a = 0; a < s->part.n_accounts; a++) {
        if (pool_of[a] < 0) continue;
        Pool *pool = &pools[pool_of[a]];
        Debit *d = &pool->debits[pool->n++];
        d->first = s->part.accounts[a].first; d->account = s->part.accounts[a].id; d->remaining = s->part.accounts[a].cents;
        n_debits++;
    }
    PyMem_RawFree(pool_of);
    for (Py_ssize_t p = 0; p < n_pools; p++) qsort(pools[p].debits, (size_t)pools[p].n, sizeof(Debit), debit_order);

    for (Py_ssize_t c = 0; c < n_credit; c++) {
        const Account *acc = &s->part.accounts[credit[c]];
        Py_ssize_t n = rows_of(s, acc, &rows, &cap_rows);
        if (n < 0) goto fail;
        if (n + 2 > cap_work) {
            cap_work = (n + 2) * 2;
            PyMem_RawFree(work); PyMem_RawFree(pay); PyMem_RawFree(paid); PyMem_RawFree(scratch); PyMem_RawFree(av); PyMem_RawFree(rk);
            work = PyMem_RawMalloc((size_t)cap_work * sizeof(Row));
            pay = PyMem_RawMalloc((size_t)cap_work * sizeof(Row *));
            paid = PyMem_RawMalloc((size_t)cap_work * sizeof(Payer));
            scratch = PyMem_RawMalloc((size_t)cap_work * sizeof(Payer));
            av = PyMem_RawMalloc((size_t)cap_work * sizeof(Available));
            rk = PyMem_RawMalloc((size_t)cap_work * sizeof(Rank));
            if (!work || !pay || !paid || !scratch || !av || !rk) { PyErr_NoMemory(); goto fail; }
        }
        int32_t g = map_get(&guarantors, acc->guarantor);
        Pool *pool = g >= 0 && pools[g].n ? &pools[g] : NULL;
        if (detect_account(&sp, acc, rows, n, work, pay, paid, scratch, av, rk, pool, &o) < 0) {
            if (!PyErr_Occurred()) PyErr_NoMemory();
            goto fail;
        }
    }
    if (o.failed) { PyErr_NoMemory(); goto fail; }
    result = Py_BuildValue("(y#n)", o.p ? o.p : "", o.n, n_credit);
fail:
    PyMem_RawFree(credit); PyMem_RawFree(pools); PyMem_RawFree(debits); map_free(&guarantors);
    PyMem_RawFree(rows); PyMem_RawFree(work); PyMem_RawFree(pay); PyMem_RawFree(paid); PyMem_RawFree(scratch); PyMem_RawFree(av);
    PyMem_RawFree(rk); PyMem_RawFree(sp.lines); PyMem_RawFree(o.p);
    (void)n_debits;
    if (!result) no_memory();
    return result;
}

/* ------------------------------------------------------------------ the rows themselves (ingest) */

static PyObject *text_or_none(Str v) {
    if (!v.n) Py_RETURN_NONE;
    return PyUnicode_FromStringAndSize(v.p, v.n);
}

static PyObject *date_or_none(Str v) {
    int32_t day;
    if (!v.n || !parse_date(v, &day)) Py_RETURN_NONE;
    int y, m, d;
    civil_from_days(day, &y, &m, &d);
    return PyDate_FromDate(y, m, d);
}

static PyObject *money_or_none(PyObject *decimal, Str v) {  /* money(): two places */
    int64_t cents;
    if (!v.n || !parse_amount(v, 1, &cents)) Py_RETURN_NONE;
    char text[32];
    uint64_t magnitude = cents < 0 ? (uint64_t)0 - (uint64_t)cents : (uint64_t)cents;
    snprintf(text, sizeof text, "%s%llu.%02llu", cents < 0 ? "-" : "", (unsigned long long)(magnitude / 100),
             (unsigned long long)(magnitude % 100));
    return PyObject_CallFunction(decimal, "s", text);
}

/* values(Decimal, Transaction, names, offset, line, limit) -> ([(line index, Transaction)], offset, line): the
 * next `limit` clean rows in file order from byte `offset` (whose line index is `line`), each made as
 * `parse_row` makes it: `names` are Transaction's fields in its order (the frozen dataclass's own __init__
 * sets each with object.__setattr__; so does this); then where to go on. Every field needs a role. */
static PyObject *Scan_values(Scan *s, PyObject *args) {
    PyObject *decimal, *type, *names;
    Py_ssize_t offset, line, limit;
    if (!PyArg_ParseTuple(args, "OO!O!nnn", &decimal, &PyType_Type, &type, &PyTuple_Type, &names, &offset, &line,
                          &limit))
        return NULL;
    if (offset < 0 || offset > s->size) { PyErr_SetString(PyExc_ValueError, "offset outside the data"); return NULL; }
    if (PyTuple_GET_SIZE(names) != N_FIELDS) { PyErr_SetString(PyExc_ValueError, "one name per field"); return NULL; }
    PyObject *list = PyList_New(0);
    if (!list) return NULL;
    const char *p = s->data + offset, *end = s->data + s->size;
    Str f[N_FIELDS];
    Row r;
    while (p < end && PyList_GET_SIZE(list) < limit) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        Py_ssize_t n = (nl ? nl : end) - p;
        if (n && p[n - 1] == '\r') n--;
        if (n && split_line(s, p, n, f) == 1 && row_from_fields(f, s->id_max_length, &r)) {
            PyObject *v[N_FIELDS] = {
                text_or_none(f[F_TXN_ID]), text_or_none(f[F_ACCOUNT_ID]), text_or_none(f[F_PATIENT_ID]),
                text_or_none(f[F_GUARANTOR_ID]), PyUnicode_FromString(TXN_TYPES[r.type]),
                money_or_none(decimal, f[F_AMOUNT]), date_or_none(f[F_POSTING_DATE]), text_or_none(f[F_PAYER_TYPE]),
                text_or_none(f[F_PAYER_ID]), r.rank ? PyLong_FromLong(r.rank) : Py_NewRef(Py_None),
                text_or_none(f[F_REFERENCE]), text_or_none(f[F_CLAIM_ID]), money_or_none(decimal, f[F_PATIENT_RESP]),
                text_or_none(f[F_ADJ_CODE]), text_or_none(f[F_REVERSAL_OF]), date_or_none(f[F_SERVICE_DATE]),
                date_or_none(f[F_ADMIT_DATE]), date_or_none(f[F_DISCHARGE_DATE]), text_or_none(f[F_TYPE_OF_BILL]),
                text_or_none(f[F_MBI]), text_or_none(f[F_PATIENT_NAME]), text_or_none(f[F_PATIENT_STATE]),
                text_or_none(f[F_FACILITY_ID])};
            PyObject *txn = ((PyTypeObject *)type)->tp_alloc((PyTypeObject *)type, 0);
            int failed = !txn;
            for (int i = 0; i < N_FIELDS; i++) {
                if (!failed && (!v[i] || PyObject_GenericSetAttr(txn, PyTuple_GET_ITEM(names, i), v[i]) < 0)) failed = 1;
                Py_XDECREF(v[i]);
            }
            PyObject *item = failed ? NULL : Py_BuildValue("(nN)", line, txn);
            if (!item) Py_XDECREF(txn);
            if (!item || PyList_Append(list, item) < 0) { Py_XDECREF(item); Py_DECREF(list); return NULL; }
            Py_DECREF(item);
        }
        line++;
        p = nl ? nl + 1 : end;
    }
    return Py_BuildValue("(Nnn)", list, p - s->data, line);
}

static PyObject *Scan_rows(Scan *s, void *closure) { (void)closure; return PyLong_FromSsize_t(s->part.n_links); }

static PyMethodDef Scan_methods[] = {
    {"flagged", (PyCFunction)Scan_flagged, METH_NOARGS,
     "flagged() -> [(line index, line)]: the rows Python reads, in file order."},
    {"accept", (PyCFunction)Scan_accept, METH_VARARGS, "accept(...): a flagged row parse_row accepted."},
    {"check_ids", (PyCFunction)Scan_check_ids, METH_O, "check_ids(ids) -> True when a txn_id appears twice."},
    {"detect", (PyCFunction)Scan_detect, METH_VARARGS, "detect(today, settings) -> (JSON lines, cases)."},
    {"values", (PyCFunction)Scan_values, METH_VARARGS,
     "values(Decimal, Transaction, names, offset, line, limit) -> (rows, offset, line): clean rows as Transactions."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Scan_getset[] = {
    {"rows", (getter)Scan_rows, NULL, "rows taken (clean, and accepted so far)", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject ScanType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "creditrefunds.domain._fastdetect.Scan",
    .tp_basicsize = sizeof(Scan),
    .tp_dealloc = (destructor)Scan_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "One CSV ledger's first pass; detect() gives its cases.",
    .tp_methods = Scan_methods,
    .tp_getset = Scan_getset,
};

static PyMethodDef module_methods[] = {
    {"scan", scan, METH_VARARGS,
     "scan(data, roles, id_max_length, parts=0) -> Scan: the rows after the header; roles[i] is the field\n"
     "column i holds; parts: how many runs of lines the first pass cuts them into (0: by size and processors)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_fastdetect", "The compiled detection pass (see fastpass.py).", -1, module_methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__fastdetect(void) {
    PyDateTime_IMPORT;
    if (!PyDateTimeAPI || PyType_Ready(&ScanType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    NotClean = PyErr_NewException("creditrefunds.domain._fastdetect.NotClean", NULL, NULL);
    PyObject *fields = Py_BuildValue("(sssssssssssssssssssssss)", "txn_id", "account_id", "patient_id",
                                     "guarantor_id", "txn_type", "amount", "posting_date", "payer_type", "payer_id",
                                     "coverage_rank", "reference", "claim_id", "patient_resp", "adj_code",
                                     "reversal_of", "service_date", "admit_date", "discharge_date", "patient_state",
                                     "type_of_bill", "mbi", "patient_name", "facility_id");
    if (!NotClean || !fields || PyModule_AddObjectRef(m, "NotClean", NotClean) < 0
        || PyModule_AddObjectRef(m, "FIELDS", fields) < 0) {
        Py_XDECREF(fields);
        Py_DECREF(m);
        return NULL;
    }
    Py_DECREF(fields);
    return m;
}
