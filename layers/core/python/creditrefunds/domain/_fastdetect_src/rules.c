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
        if (!sp->failed) PyErr_SetString(FdNotClean, "a due date past 9999-12-31: the reference says so");
        sp->failed = 1;
        return day;
    }
    return (int32_t)when;
}

static long long payer_days(Split *sp, Payer p) {
    if (has_in(sp, sp->st->days_by_payer_id, p.id)) return fd_days_in(sp, sp->st->days_by_payer_id, p.id, 60);
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

static void refund(Split *sp, const char *reason, Payer p, int64_t wanted, int32_t due) {
    Available *av = available(sp, p);
    int64_t ceiling = av->amount > 0 ? av->amount : 0;
    int64_t amount = take(sp, wanted < ceiling ? wanted : ceiling);
    if (amount > 0) {
        available(sp, p)->amount -= amount;
        Line *line = fd_add_line(sp, "REFUND", reason, amount, due != NO_DAY ? due : refund_due(sp, p));
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
    if (amount > 0) fd_add_line(sp, "REVIEW", "UNEXPLAINED", amount, days_after(sp, sp->today, sp->st->false_credit_days));
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

static void free_rows(Split *sp) {
    PyMem_RawFree(sp->txns); PyMem_RawFree(sp->pay); PyMem_RawFree(sp->paid); PyMem_RawFree(sp->scratch);
    PyMem_RawFree(sp->av); PyMem_RawFree(sp->rk);
    sp->txns = NULL; sp->pay = NULL; sp->paid = sp->scratch = NULL; sp->av = NULL; sp->rk = NULL;
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
    sp->room = (n + 2) * 2;
    sp->txns = PyMem_RawMalloc((size_t)sp->room * sizeof(Row));
    sp->pay = PyMem_RawMalloc((size_t)sp->room * sizeof(Row *));
    sp->paid = PyMem_RawMalloc((size_t)sp->room * sizeof(Payer));
    sp->scratch = PyMem_RawMalloc((size_t)sp->room * sizeof(Payer));
    sp->av = PyMem_RawMalloc((size_t)sp->room * sizeof(Available));
    sp->rk = PyMem_RawMalloc((size_t)sp->room * sizeof(Rank));
    if (sp->txns && sp->pay && sp->paid && sp->scratch && sp->av && sp->rk) return 0;
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
    sp->n = cancel_reversals(rows, n, work);
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
    duplicate_postings(sp);
    duplicate_adjustments(sp);
    duplicate_payments(sp);
    other_payer_primary(sp, sp->paid, sp->scratch);
    patient_overpayment(sp);
    payer_overpayment(sp, sp->paid);
    unexplained(sp);
    return sp->failed ? -1 : 0;
}
