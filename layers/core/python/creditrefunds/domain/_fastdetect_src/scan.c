/* The first pass: the file cut at line ends into parts, one thread each without the GIL; every line
 * split in place, clean rows summed per account, the others kept for Python; the parts merged in order. */
#include "fastdetect.h"

#include <pthread.h>
#include <unistd.h>

/* Printable ASCII with nothing for `str.strip()` to take off. */
static int plain(Str s) {
    for (Py_ssize_t i = 0; i < s.n; i++)
        if ((unsigned char)s.p[i] < 0x20 || (unsigned char)s.p[i] > 0x7e) return 0;
    return s.n == 0 || (s.p[0] != ' ' && s.p[s.n - 1] != ' ');
}

int fd_split_line(const Scan *s, const char *p, Py_ssize_t n, Str *f) {
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

/* Later before earlier: does the row (day, txn) come at or after (on, at)? (AccountSummary.add's `>=`) */
static int at_or_after(int32_t day, Str txn, int32_t on, Str at) {
    return on == NO_DAY || day > on || (day == on && str_cmp(txn, at) >= 0);
}

/* `from`'s figures into `to`'s, `from`'s rows coming after `to`'s (AccountSummary.add, row by row or a
 * part's account at once): the balance, the first date, the latest row's parties and the latest state. */
static void fold(Account *to, const Account *from) {
    to->cents += from->cents;
    if (to->first == NO_DAY || from->first < to->first) to->first = from->first;
    if (at_or_after(from->latest_day, from->latest_txn, to->latest_day, to->latest_txn)) {
        to->latest_day = from->latest_day; to->latest_txn = from->latest_txn;
        to->guarantor = from->guarantor; to->patient = from->patient;
    }
    if (from->stated_day != NO_DAY && at_or_after(from->stated_day, from->stated_txn, to->stated_day, to->stated_txn)) {
        to->stated_day = from->stated_day; to->stated_txn = from->stated_txn; to->state = from->state;
    }
}

int fd_add_row(Part *pt, const Row *r, int64_t source) {
    int added = 0;
    int32_t a;
    if (pt->last_account >= 0 && str_eq(pt->accounts[pt->last_account].id, r->account_id)) a = (int32_t)pt->last_account;
    else if ((a = fd_map_put(&pt->by_account, r->account_id, (int32_t)pt->n_accounts, &added)) < -1) return -1;
    pt->last_account = a;
    if (added) {
        Account *bigger = fd_grow(pt->accounts, &pt->cap_accounts, pt->n_accounts + 1, sizeof(Account));
        if (!bigger) return -1;
        pt->accounts = bigger;
        Account *fresh = &pt->accounts[pt->n_accounts++];
        memset(fresh, 0, sizeof *fresh);
        fresh->id = r->account_id;
        fresh->first = fresh->latest_day = fresh->stated_day = NO_DAY;
        fresh->head = -1;
    }
    Link *links = fd_grow(pt->links, &pt->cap_links, pt->n_links + 1, sizeof(Link));
    if (!links) return -1;
    pt->links = links;
    Account *acc = &pt->accounts[a];
    links[pt->n_links].source = source;
    links[pt->n_links].next = acc->head;
    acc->head = (int32_t)pt->n_links++;
    Account row = {.cents = r->cents, .first = r->service != NO_DAY ? r->service : r->posting,
                   .latest_day = r->posting, .latest_txn = r->txn_id, .guarantor = r->guarantor_id,
                   .patient = r->patient_id, .stated_day = r->state.n ? r->posting : NO_DAY,
                   .stated_txn = r->txn_id, .state = r->state};
    fold(acc, &row);
    return 0;
}

int fd_add_txn_id(Part *pt, Str id) {
    uint64_t *ids = fd_grow(pt->ids, &pt->cap_ids, pt->n_ids + 1, sizeof(uint64_t));
    if (!ids) return -1;
    pt->ids = ids;
    ids[pt->n_ids++] = fd_str_hash(id);
    return 0;
}

/* Whether two txn_ids have the same hash (the same id, or, once in a very long while, a collision:
 * either way the reference reader decides): a radix sort of the hashes, then neighbours compared. */
int fd_repeated_ids(Part *pt) {
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

/* The first pass over one part: every line split, clean rows summed per account, the others kept for Python. */
static int first_pass(const Scan *s, Part *pt) {
    const char *p = s->data + pt->from, *end = s->data + pt->to;
    if (!fd_utf8_ok((const unsigned char *)p, end - p)) return -3;
    int has_cr = memchr(p, '\r', (size_t)(end - p)) != NULL;  /* then each line is looked at for a lone one */
    Str f[N_FIELDS];
    Row r;
    while (p < end) {
        Py_ssize_t n;
        const char *next = fd_line(p, end, &n);
        if (has_cr && memchr(p, '\r', (size_t)n)) return -2;  /* a lone CR ends a line for the reference reader */
        if (n) {
            int shape = fd_split_line(s, p, n, f);
            if (shape < 0) return -2;
            if (shape && fd_row_from_fields(f, s->id_max_length, &r)) {
                if (fd_add_row(pt, &r, p - s->data) < 0 || fd_add_txn_id(pt, r.txn_id) < 0) return -1;
            } else {
                Flagged *bigger = fd_grow(pt->flagged, &pt->cap_flagged, pt->n_flagged + 1, sizeof(Flagged));
                if (!bigger) return -1;
                pt->flagged = bigger;
                pt->flagged[pt->n_flagged].line = pt->lines;
                pt->flagged[pt->n_flagged].start = p - s->data;
                pt->flagged[pt->n_flagged++].length = n;
            }
        }
        pt->lines++;
        p = next;
    }
    return 0;
}

void fd_part_free(Part *pt) {
    PyMem_RawFree(pt->accounts); PyMem_RawFree(pt->links); PyMem_RawFree(pt->flagged); PyMem_RawFree(pt->ids);
    fd_map_free(&pt->by_account);
    memset(pt, 0, sizeof *pt);
}

/* `b`'s rows and accounts into `a` (b's lines come after a's). */
static int merge(Part *a, Part *b) {
    Py_ssize_t shift = a->n_links;
    Link *links = fd_grow(a->links, &a->cap_links, a->n_links + b->n_links, sizeof(Link));
    if (!links) return -1;
    a->links = links;
    uint64_t *ids = fd_grow(a->ids, &a->cap_ids, a->n_ids + b->n_ids, sizeof(uint64_t));
    if (!ids) return -1;
    a->ids = ids;
    Flagged *flagged = fd_grow(a->flagged, &a->cap_flagged, a->n_flagged + b->n_flagged, sizeof(Flagged));
    if (!flagged) return -1;
    a->flagged = flagged;
    for (Py_ssize_t i = 0; i < b->n_links; i++) {
        a->links[shift + i] = b->links[i];
        if (b->links[i].next >= 0) a->links[shift + i].next += (int32_t)shift;
    }
    a->n_links += b->n_links;
    if (b->n_ids) memcpy(a->ids + a->n_ids, b->ids, (size_t)b->n_ids * sizeof(uint64_t));
    a->n_ids += b->n_ids;
    for (Py_ssize_t i = 0; i < b->n_flagged; i++) {
        a->flagged[a->n_flagged] = b->flagged[i];
        a->flagged[a->n_flagged++].line += a->lines;
    }
    a->lines += b->lines;
    for (Py_ssize_t i = 0; i < b->n_accounts; i++) {
        Account *from = &b->accounts[i];
        int added;
        int32_t at = fd_map_put(&a->by_account, from->id, (int32_t)a->n_accounts, &added);
        if (at < -1) return -1;
        int32_t head = from->head + (int32_t)shift;
        if (added) {
            Account *bigger = fd_grow(a->accounts, &a->cap_accounts, a->n_accounts + 1, sizeof(Account));
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
        fold(to, from);
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
int fd_first_pass_parallel(Scan *s, Py_ssize_t parts) {
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
        if (fd_map_init(&pt[i].by_account, (pt[i].to - pt[i].from) / 480 + 16) < 0) pt[i].result = -1;
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
    for (Py_ssize_t i = 1; i < parts; i++) fd_part_free(&pt[i]);
    s->part = pt[0];
    return result;
}
