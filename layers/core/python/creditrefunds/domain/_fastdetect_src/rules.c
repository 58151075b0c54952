/* split.py: the lines of one account's credit, before offsets and holds, in rule order. */
#include "fastdetect.h"

static const Str NONE = {"", 0};

static Payer payer_of(const Row *r) {
    Payer p = {r->ptype, r->ptype == P_PATIENT ? NONE : r->payer_id};
    return p;
}
static int payer_eq(Payer a, Payer b) { return a.ptype == b.ptype && str_eq(a.id, b.id); }
static const Payer PATIENT = {P_PATIENT, {"", 0}};

static int order_cmp(const Row *a, const Row *b) {
    if (a->posting != b->posting) return a->posting < b->posting ? -1 : 1;
    return str_cmp(a->txn_id, b->txn_id);
}
int fd_order_qsort(const void *a, const void *b) { return order_cmp(a, b); }

/* A days setting from one of the tables (the dict `table`), or `fallback`. */
long long fd_days_in(Split *sp, PyObject *table, Str key, long long fallback) {
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

static int32_t days_after(Split *sp, int32_t day, long long days) {
    long long when = (long long)day + days;
    if (when > MAX_DAY || when < MIN_DAY) {
        if (!sp->failed) PyErr_SetString(FdNotClean, "a due date past 9999-12-31: the reference says so");
        sp->failed = 1;
        return day;
    }
    return (int32_t)when;
}

static long long payer_days(Split *sp, Payer p) {  /* by payer_id, which wins, else by type (days are positive) */
    long long days = fd_days_in(sp, sp->st->days_by_payer_id, p.id, -1);
    if (days >= 0) return days;
    Str type = {PAYER_TYPES[p.ptype], (Py_ssize_t)strlen(PAYER_TYPES[p.ptype])};
    return fd_days_in(sp, sp->st->days_by_payer_type, type, 60);
}

static int32_t refund_due(Split *sp, Payer p) {
    if (payer_eq(p, PATIENT))
        return days_after(sp, sp->today, fd_days_in(sp, sp->st->days_by_state, sp->state, sp->st->patient_default_days));
    return days_after(sp, sp->today, payer_days(sp, p));
}

Line *fd_add_line(Split *sp, const char *action, const char *reason, int64_t cents, int32_t due) {
    Line *lines = fd_grow(sp->lines, &sp->cap_lines, sp->n_lines + 1, sizeof(Line));
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
    sp->av[sp->n_av].in_error = 0;
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
        Line *line = fd_add_line(sp, "CORRECT", reason, amount, days_after(sp, sp->today, sp->st->false_credit_days));
        if (line) set_payee(sp, line, p);
    }
}

/* Returns whether a line was made. */
static int refund(Split *sp, const char *reason, Payer p, int64_t wanted, int32_t due) {
    Available *av = available(sp, p);
    int64_t ceiling = av->amount > 0 ? av->amount : 0;
    int64_t amount = take(sp, wanted < ceiling ? wanted : ceiling);
    if (amount > 0) {
        av->amount -= amount;
        Line *line = fd_add_line(sp, "REFUND", reason, amount, due != NO_DAY ? due : refund_due(sp, p));
        if (line) set_payee(sp, line, p);
        return 1;
    }
    return 0;
}

/* Step 4: the payer paid in error; its patient_resp counts for nothing in step 5. */
static void in_error(Split *sp, const char *reason, Payer p, int32_t due) {
    if (refund(sp, reason, p, available(sp, p)->amount, due)) available(sp, p)->in_error = 1;
}

/* Rows grouped by a key, as split.py's dicts of lists group them: for each row, the next row of its
 * group in order (next, -1 at the end) and whether it opens its group (first). In O(n log n): the rows'
 * indices sorted by (key, index). Rows with include[i] == 0 take no part. */
typedef int (*KeyCmp)(const Row *, const Row *);
static const Row **group_items;  /* qsort has no context argument in C11; detection holds the GIL */
static KeyCmp group_key;

static int by_key_then_index(const void *a, const void *b) {
    Py_ssize_t i = *(const Py_ssize_t *)a, j = *(const Py_ssize_t *)b;
    int c = group_key(group_items[i], group_items[j]);
    return c ? c : (i < j ? -1 : 1);
}

static void group(Split *sp, Py_ssize_t n, const char *include, KeyCmp key) {
    Py_ssize_t m = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        sp->next[i] = -1;
        sp->first[i] = 0;
        if (include[i]) sp->order[m++] = i;
    }
    group_items = sp->items;
    group_key = key;
    qsort(sp->order, (size_t)m, sizeof(Py_ssize_t), by_key_then_index);
    for (Py_ssize_t k = 0; k < m; k++) {
        if (k == 0 || key(sp->items[sp->order[k - 1]], sp->items[sp->order[k]]) != 0) sp->first[sp->order[k]] = 1;
        else sp->next[sp->order[k - 1]] = sp->order[k];
    }
}

static int payer_cmp(Payer a, Payer b) { return a.ptype != b.ptype ? (a.ptype < b.ptype ? -1 : 1) : str_cmp(a.id, b.id); }
static int cents_cmp(int64_t a, int64_t b) { return a < b ? -1 : a > b; }

static int posting_key(const Row *a, const Row *b) {  /* (payer, amount, reference, claim_id) */
    int c = payer_cmp(payer_of(a), payer_of(b));
    if (!c) c = cents_cmp(a->cents, b->cents);
    if (!c) c = str_cmp(a->reference, b->reference);
    return c ? c : str_cmp(a->claim_id, b->claim_id);
}
static int adjustment_key(const Row *a, const Row *b) {  /* (payer, adj_code, amount, claim_id) */
    int c = payer_cmp(payer_of(a), payer_of(b));
    if (!c) c = str_cmp(a->adj_code, b->adj_code);
    if (!c) c = cents_cmp(a->cents, b->cents);
    return c ? c : str_cmp(a->claim_id, b->claim_id);
}
static int payment_key(const Row *a, const Row *b) {  /* (payer, amount, claim_id) */
    int c = payer_cmp(payer_of(a), payer_of(b));
    if (!c) c = cents_cmp(a->cents, b->cents);
    return c ? c : str_cmp(a->claim_id, b->claim_id);
}

/* The payments as items; include: those with a reference. */
static void referenced_payments(Split *sp, char *include) {
    for (Py_ssize_t i = 0; i < sp->n_pay; i++) {
        sp->items[i] = sp->pay[i];
        include[i] = sp->pay[i]->reference.n > 0;
    }
}

static void duplicate_postings(Split *sp, char *include) {
    referenced_payments(sp, include);
    group(sp, sp->n_pay, include, posting_key);
    for (Py_ssize_t i = 0; i < sp->n_pay; i++) {
        if (!sp->first[i]) continue;
        for (Py_ssize_t k = sp->next[i]; k >= 0; k = sp->next[k]) {
            const Row *copy = sp->pay[k];
            include[k] = 2;  /* an extra copy */
            correct(sp, "DUPLICATE_POSTING", payer_of(copy), -copy->cents);
            available(sp, payer_of(copy))->amount += copy->cents;  /* the extra copy is not money paid */
        }
    }
    Py_ssize_t kept = 0;  /* ... and never anyone's first or latest payment when the later rules order their lines */
    for (Py_ssize_t i = 0; i < sp->n_pay; i++)
        if (include[i] != 2) sp->pay[kept++] = sp->pay[i];
    sp->n_pay = kept;
}

static void duplicate_adjustments(Split *sp, char *include) {
    for (Py_ssize_t i = 0; i < sp->n; i++) {
        sp->items[i] = &sp->txns[i];
        include[i] = sp->txns[i].type == T_ADJUSTMENT && sp->txns[i].cents < 0;
    }
    group(sp, sp->n, include, adjustment_key);
    for (Py_ssize_t i = 0; i < sp->n; i++)
        if (sp->first[i])
            for (Py_ssize_t k = sp->next[i]; k >= 0; k = sp->next[k])
                correct(sp, "DUPLICATE_ADJUSTMENT", payer_of(&sp->txns[k]), -sp->txns[k].cents);
}

/* Every later payment of a (payer, amount, claim) group under a reference not seen in it before. Each
 * later one is under a new reference: two payments of a group under one reference are one posting key,
 * and duplicate_postings took every copy but the first out of the payments already. */
static void duplicate_payments(Split *sp, char *include) {
    referenced_payments(sp, include);
    group(sp, sp->n_pay, include, payment_key);
    for (Py_ssize_t i = 0; i < sp->n_pay; i++)
        if (sp->first[i])
            for (Py_ssize_t k = sp->next[i]; k >= 0; k = sp->next[k])
                refund(sp, "DUPLICATE_PAYMENT", payer_of(sp->pay[k]), -sp->pay[k]->cents, NO_DAY);
}

/* The payers with money of theirs on the account, in the order they first appeared (not the patient),
 * each with its first and last payment (after the extra copies went) and its rank. */
static Py_ssize_t paid_insurers(Split *sp, Facts *out) {
    Py_ssize_t n = 0;
    for (Py_ssize_t i = 0; i < sp->n_av; i++)
        if (!payer_eq(sp->av[i].payer, PATIENT) && sp->av[i].amount > 0) {
            out[n].payer = sp->av[i].payer;
            out[n].first = out[n].last = NULL;
            out[n++].rank = rank_of(sp, sp->av[i].payer);
        }
    for (Py_ssize_t i = 0; i < sp->n_pay; i++)
        for (Py_ssize_t j = 0; j < n; j++)
            if (payer_eq(payer_of(sp->pay[i]), out[j].payer)) {
                if (!out[j].first) out[j].first = sp->pay[i];
                out[j].last = sp->pay[i];
                break;
            }
    return n;
}

static void swap(Facts *a, Facts *b) { Facts t = *a; *a = *b; *b = t; }

static void other_payer_primary(Split *sp, Facts *paid) {
    Py_ssize_t n_paid = 0, n_all = paid_insurers(sp, paid);
    for (Py_ssize_t i = 0; i < n_all; i++)
        if (paid[i].first) paid[n_paid++] = paid[i];
    for (Py_ssize_t i = 0; i < n_paid; i++) {
        Facts medicare = paid[i];
        if (medicare.payer.ptype != P_MEDICARE) continue;
        int32_t other_paid_on = NO_DAY;
        for (Py_ssize_t j = 0; j < n_paid; j++) {
            int r = paid[j].rank;
            if (paid[j].payer.ptype == P_MEDICARE || !(r < medicare.rank || (r == medicare.rank && r == 1))) continue;
            if (other_paid_on == NO_DAY || paid[j].first->posting < other_paid_on) other_paid_on = paid[j].first->posting;
        }
        if (other_paid_on == NO_DAY) continue;
        int32_t due = refund_due(sp, medicare.payer);
        int32_t by_other = days_after(sp, other_paid_on, payer_days(sp, medicare.payer));
        in_error(sp, "MSP_OTHER_PRIMARY", medicare.payer, by_other < due ? by_other : due);
    }
    /* rank one payers other than Medicare, by their first payment; all but the first, latest payment first */
    Py_ssize_t n_one = 0;
    n_all = paid_insurers(sp, paid);
    for (Py_ssize_t i = 0; i < n_all; i++)
        if (paid[i].payer.ptype != P_MEDICARE && paid[i].rank == 1 && paid[i].first) paid[n_one++] = paid[i];
    for (Py_ssize_t i = 1; i < n_one; i++)
        for (Py_ssize_t j = i; j > 0 && order_cmp(paid[j].first, paid[j - 1].first) < 0; j--) swap(&paid[j], &paid[j - 1]);
    for (Py_ssize_t i = 2; i < n_one; i++)
        for (Py_ssize_t j = i; j > 1 && order_cmp(paid[j].last, paid[j - 1].last) > 0; j--) swap(&paid[j], &paid[j - 1]);
    for (Py_ssize_t i = 1; i < n_one; i++)
        in_error(sp, "COB_ERROR", paid[i].payer, NO_DAY);
}

static void patient_overpayment(Split *sp) {
    int64_t responsibility = 0;
    for (Py_ssize_t i = 0; i < sp->n_pay; i++) {  /* the latest that carries it, of a payer not in error */
        Payer p = payer_of(sp->pay[i]);
        if (payer_eq(p, PATIENT) || sp->pay[i]->resp < 0) continue;
        int err = 0;
        for (Py_ssize_t k = 0; k < sp->n_av; k++)
            if (payer_eq(sp->av[k].payer, p)) err = sp->av[k].in_error;
        if (!err) responsibility = sp->pay[i]->resp;
    }
    refund(sp, "PATIENT_OVERPAYMENT", PATIENT, available(sp, PATIENT)->amount - responsibility, NO_DAY);
}

/* payer_overpayment's order, descending: (rank, the last payment's (posting_date, txn_id)) */
static int overpayment_cmp(const Facts *a, const Facts *b) {
    if (a->rank != b->rank) return a->rank < b->rank ? -1 : 1;
    if (!a->last || !b->last) return a->last ? 1 : b->last ? -1 : 0;
    return order_cmp(a->last, b->last);
}

static void payer_overpayment(Split *sp, Facts *paid) {
    Py_ssize_t n = paid_insurers(sp, paid);
    for (Py_ssize_t i = 1; i < n; i++)  /* stable: equal keys keep their order, as sorted(reverse=True) does */
        for (Py_ssize_t j = i; j > 0 && overpayment_cmp(&paid[j], &paid[j - 1]) > 0; j--) swap(&paid[j], &paid[j - 1]);
    for (Py_ssize_t i = 0; i < n; i++)
        refund(sp, "PAYER_OVERPAYMENT", paid[i].payer, available(sp, paid[i].payer)->amount, NO_DAY);
}

static void unexplained(Split *sp) {
    int64_t amount = take(sp, sp->remaining);
    if (amount > 0) fd_add_line(sp, "REVIEW", "UNEXPLAINED", amount, days_after(sp, sp->today, sp->st->false_credit_days));
}

/* split.cancel_reversals: each REVERSAL netted into the row it cancels (orphans stay), in O(n log n): the
 * other rows' indices sorted by txn_id, each reversal's target found by bisection. */
static const Row *by_id_rows;
static int by_txn_id(const void *a, const void *b) {
    return str_cmp(by_id_rows[*(const Py_ssize_t *)a].txn_id, by_id_rows[*(const Py_ssize_t *)b].txn_id);
}

static Py_ssize_t cancel_reversals(Split *sp, const Row *rows, Py_ssize_t n, Row *out) {
    Py_ssize_t *ids = sp->order, m = 0, kept = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        out[i] = rows[i];
        if (rows[i].type != T_REVERSAL) ids[m++] = i;
    }
    by_id_rows = rows;
    qsort(ids, (size_t)m, sizeof(Py_ssize_t), by_txn_id);
    for (Py_ssize_t i = 0; i < n; i++) {
        sp->next[i] = 0;  /* 1: an orphan reversal, kept after the others */
        if (rows[i].type != T_REVERSAL) continue;
        Py_ssize_t lo = 0, hi = m;
        while (lo < hi) {
            Py_ssize_t mid = (lo + hi) / 2;
            if (str_cmp(rows[ids[mid]].txn_id, rows[i].reversal_of) < 0) lo = mid + 1;
            else hi = mid;
        }
        if (lo < m && str_eq(rows[ids[lo]].txn_id, rows[i].reversal_of)) out[ids[lo]].cents += rows[i].cents;
        else sp->next[i] = 1;
    }
    for (Py_ssize_t i = 0; i < n; i++)  /* the netted rows in their order (none that nets to 0), then the orphans */
        if (rows[i].type != T_REVERSAL && out[i].cents != 0) out[kept++] = out[i];
    for (Py_ssize_t i = 0; i < n; i++)
        if (sp->next[i]) out[kept++] = rows[i];
    return kept;
}

static void free_rows(Split *sp) {
    void *arrays[] = {sp->txns, sp->pay, sp->paid, sp->av, sp->rk, sp->items, sp->order, sp->next, sp->first, sp->mark};
    for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++) PyMem_RawFree(arrays[i]);
    sp->txns = NULL; sp->pay = NULL; sp->paid = NULL; sp->av = NULL; sp->rk = NULL; sp->items = NULL;
    sp->order = sp->next = NULL; sp->first = sp->mark = NULL;
    sp->room = 0;
}

void fd_split_free(Split *sp) {
    free_rows(sp);
    PyMem_RawFree(sp->lines);
    sp->lines = NULL;
    sp->n_lines = sp->cap_lines = 0;
}

/* Room in the split's arrays for an account of `n` rows. */
static int make_room(Split *sp, Py_ssize_t n) {
    if (n + 2 <= sp->room) return 0;
    free_rows(sp);
    size_t room = (size_t)(n + 2) * 2;
    sp->txns = PyMem_RawMalloc(room * sizeof(Row));
    sp->pay = PyMem_RawMalloc(room * sizeof(Row *));
    sp->paid = PyMem_RawMalloc(room * sizeof(Facts));
    sp->av = PyMem_RawMalloc(room * sizeof(Available));
    sp->rk = PyMem_RawMalloc(room * sizeof(Rank));
    sp->items = PyMem_RawMalloc(room * sizeof(Row *));
    sp->order = PyMem_RawMalloc(room * sizeof(Py_ssize_t));
    sp->next = PyMem_RawMalloc(room * sizeof(Py_ssize_t));
    sp->first = PyMem_RawMalloc(room);
    sp->mark = PyMem_RawMalloc(room);
    if (sp->txns && sp->pay && sp->paid && sp->av && sp->rk && sp->items && sp->order && sp->next && sp->first
        && sp->mark) {
        sp->room = (Py_ssize_t)room;
        return 0;
    }
    fd_no_memory();
    sp->failed = 1;
    return -1;
}

int fd_split_lines(Split *sp, const Account *acc, const Row *rows, Py_ssize_t n) {
    sp->guarantor = acc->guarantor;
    sp->state = acc->state.p ? acc->state : NONE;
    if (make_room(sp, n) < 0) return -1;
    Row *work = sp->txns, **pay = sp->pay;
    Rank *rk = sp->rk;
    sp->n = cancel_reversals(sp, rows, n, work);
    qsort(work, (size_t)sp->n, sizeof(Row), fd_order_qsort);
    sp->n_pay = sp->n_av = sp->n_rk = sp->n_lines = 0;
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
    duplicate_postings(sp, sp->mark);
    duplicate_adjustments(sp, sp->mark);
    duplicate_payments(sp, sp->mark);
    other_payer_primary(sp, sp->paid);
    patient_overpayment(sp);
    payer_overpayment(sp, sp->paid);
    unexplained(sp);
    return sp->failed ? -1 : 0;
}
