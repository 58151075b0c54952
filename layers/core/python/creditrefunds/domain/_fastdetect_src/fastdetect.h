/* The compiled detection pass: `ledger.py` and `split.py`'s answer on a clean-shaped CSV ledger,
 * in one pass of C over the file's bytes (wrapped by ../fastpass.py).
 *
 * The Python modules are the definition; this code is held byte-identical to them by the property
 * tests (tests/unit/test_compiled.py, test_compiled_rows.py). It decides nothing they would decide
 * differently:
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
 *
 *   text.c    strings, hashing, the hash map, dates, amounts, one row's checks
 *   scan.c    the first pass: lines split in place, clean rows summed per account, on every processor
 *   rules.c   split.py's rules: one account's credit into lines
 *   cases.c   detection.py: the guarantors' debts, offsets and holds, each account in credit as a case
 *   json.c    the cases written as `refunds detect` writes them (json.dumps)
 *   module.c  the Python module: scan(), and the Scan's methods
 */
#ifndef FASTDETECT_H
#define FASTDETECT_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* ------------------------------------------------------------------ text */

typedef struct { const char *p; Py_ssize_t n; } Str;

static inline int str_eq(Str a, Str b) { return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, (size_t)a.n) == 0); }

static inline int str_cmp(Str a, Str b) {  /* the order of Python str for UTF-8: byte order */
    Py_ssize_t n = a.n < b.n ? a.n : b.n;
    int c = n ? memcmp(a.p, b.p, (size_t)n) : 0;
    if (c) return c;
    return a.n < b.n ? -1 : a.n > b.n;
}

/* The line at p (p < end): its length without its end ("\n" or "\r\n") in *n; where the next one starts. */
static inline const char *fd_line(const char *p, const char *end, Py_ssize_t *n) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    *n = (nl ? nl : end) - p;
    if (*n && p[*n - 1] == '\r') (*n)--;
    return nl ? nl + 1 : end;
}

uint64_t fd_str_hash(Str s);
int fd_utf8_ok(const unsigned char *p, Py_ssize_t n);  /* every byte UTF-8, and no NUL */

/* Memory comes from the raw allocator (the first pass runs without the GIL); running out returns NULL or
 * -1, and the function Python called raises MemoryError (fd_no_memory, holding the GIL). */
extern PyObject *FdNotClean;  /* module.c: creditrefunds.domain._fastdetect.NotClean */
PyObject *fd_no_memory(void);
void *fd_grow(void *array, Py_ssize_t *capacity, Py_ssize_t need, size_t item);

#define MIN_DAY (-719162)  /* 0001-01-01 */
#define MAX_DAY 2932896    /* 9999-12-31 */
#define NO_DAY INT32_MIN
void fd_civil_from_days(int32_t days, int *y, int *m, int *d);
void fd_money_text(int64_t cents, char out[32]);  /* money_text(): "-12.34" */

/* ------------------------------------------------------------------ rows */

enum { T_CHARGE = 1, T_PAYMENT, T_ADJUSTMENT, T_REFUND, T_RECOUPMENT, T_REVERSAL, T_TRANSFER, N_TXN_TYPES };
enum { P_NONE = 0, P_PATIENT, P_MEDICARE, P_MEDICAID, P_COMMERCIAL, P_OTHER, N_PAYER_TYPES };
extern const char *const TXN_TYPES[N_TXN_TYPES];
extern const char *const PAYER_TYPES[N_PAYER_TYPES];
int fd_lookup_code(Str s, const char *const *names, int count);

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

#define LARGEST_CENTS 1000000000000LL  /* ten integer digits: a million rows of them still fit in 64 bits */
#define FIELD_LIMIT 100000  /* below csv.field_size_limit()'s 131072 */
int fd_parse_amount(Str s, int allow_sign, int64_t *cents);
int fd_parse_date(Str s, int32_t *day);
int fd_row_from_fields(const Str *f, Py_ssize_t id_max_length, Row *r);

/* ------------------------------------------------------------------ hash map: Str -> int32 */

typedef struct { Str key; uint32_t hash; int32_t value; } Slot;
typedef struct { Slot *slots; Py_ssize_t mask, used; } Map;
int fd_map_init(Map *m, Py_ssize_t expected);
void fd_map_free(Map *m);
int fd_map_put(Map *m, Str key, int32_t value, int *added);  /* the value under key, or value once added; < -1: memory */
int32_t fd_map_get(const Map *m, Str key);

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

int fd_split_line(const Scan *s, const char *p, Py_ssize_t n, Str *f);  /* 1 clean, 0 flagged, -1 not clean-shaped */
int fd_add_row(Part *pt, const Row *r, int64_t source);
int fd_add_txn_id(Part *pt, Str id);
int fd_repeated_ids(Part *pt);
int fd_first_pass_parallel(Scan *s, Py_ssize_t parts);  /* without the GIL */
void fd_part_free(Part *pt);

/* ------------------------------------------------------------------ the rules */

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

typedef struct { int32_t first; Str account; int64_t remaining; } Debit;
typedef struct { Debit *debits; Py_ssize_t n; } Pool;  /* detection.DebitPool */

typedef struct { int8_t ptype; Str id; } Payer;
typedef struct { Payer payer; int64_t amount; char in_error; } Available;  /* in_error: step 4 refunds it */
typedef struct { Payer payer; int rank; } Rank;
typedef struct { Payer payer; const Row *first, *last; int rank; } Facts;  /* a payer's payments and rank */

/* One account's split (split._Splitter), with room for the next account's. */
typedef struct {
    const Settings *st;
    int32_t today;
    Str guarantor, state;
    Row *txns; Py_ssize_t n;
    Row **pay; Py_ssize_t n_pay;
    Available *av; Py_ssize_t n_av;
    Rank *rk; Py_ssize_t n_rk;
    Facts *paid;
    const Row **items; Py_ssize_t *order, *next; char *first, *mark;  /* grouping rows by a key */
    Py_ssize_t room;  /* rows the arrays above hold */
    int64_t remaining;
    Line *lines; Py_ssize_t n_lines, cap_lines;
    int failed;  /* a Python error is set */
} Split;

/* split.split_credit: the lines of one account in credit, in sp->lines (-1: failed, a Python error set). */
int fd_split_lines(Split *sp, const Account *acc, const Row *rows, Py_ssize_t n);
Line *fd_add_line(Split *sp, const char *action, const char *reason, int64_t cents, int32_t due);
void fd_split_free(Split *sp);
int fd_order_qsort(const void *a, const void *b);  /* rows by (posting_date, txn_id) */
long long fd_days_in(Split *sp, PyObject *table, Str key, long long fallback);

/* ------------------------------------------------------------------ the cases, as JSON */

typedef struct { char *p; Py_ssize_t n, cap; int failed; } Out;
void fd_put(Out *o, const char *text, Py_ssize_t n);
void fd_puts(Out *o, const char *text);
void fd_put_json_str(Out *o, Str s);  /* json.dumps of a str (ensure_ascii); s is UTF-8 */
void fd_put_optional(Out *o, const char *text);  /* NULL: null */
void fd_put_optional_str(Out *o, Str s);  /* .p NULL: null */
void fd_put_money(Out *o, int64_t cents);  /* "12.34" */
void fd_put_date(Out *o, int32_t day);  /* "2026-11-01", or null */
void fd_iso_date(int32_t day, char out[11]);

PyObject *fd_detect(Scan *s, PyObject *args);  /* Scan.detect(today, settings) -> (JSON lines, count) */

#endif
