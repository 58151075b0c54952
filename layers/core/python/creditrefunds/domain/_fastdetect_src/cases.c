/* detection.py: the guarantors' debts (DebitPool), offsets and holds, and every account in credit as a
 * case (detect_cases), written as `refunds detect` writes it. */
#include "fastdetect.h"
#include "sha256.h"

/* detection.case_id_for(account_id, episode_start) */
static int case_id(Str account, int32_t start, char out[20]) {
    static const char hex[] = "0123456789ABCDEF";
    unsigned char digest[32];
    char date[11];
    fd_iso_date(start, date);
    Py_ssize_t n = account.n + 11;
    unsigned char small[256], *key = n <= (Py_ssize_t)sizeof small ? small : PyMem_RawMalloc((size_t)n);
    if (!key) return -1;
    memcpy(key, account.p, (size_t)account.n);
    key[account.n] = '|';
    memcpy(key + account.n + 1, date, 10);
    sha256(key, (size_t)n, digest);
    if (key != small) PyMem_RawFree(key);
    memcpy(out, "CB-", 3);
    for (int i = 0; i < 8; i++) { out[3 + 2 * i] = hex[digest[i] >> 4]; out[4 + 2 * i] = hex[digest[i] & 15]; }
    out[19] = 0;
    return 0;
}

static int32_t episode_start(Row *rows, Py_ssize_t n) {
    qsort(rows, (size_t)n, sizeof(Row), fd_order_qsort);
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


/* detection.offsets_and_holds: patient refunds first pay the guarantor's other debts, small rests wait. The
 * split's lines stay; the case's lines follow them, from the index returned. */
static Py_ssize_t offsets_and_holds(Split *sp, Pool *pool) {
    Py_ssize_t split_lines = sp->n_lines;
    long long floor = fd_days_in(sp, sp->st->floors, sp->state, sp->st->floor_default);
    for (Py_ssize_t i = 0; i < split_lines && !sp->failed; i++) {
        Line line = sp->lines[i];
        if (strcmp(line.action, "REFUND") != 0 || !line.payee_type || strcmp(line.payee_type, "PATIENT") != 0) {
            Line *kept = fd_add_line(sp, line.action, line.reason, line.cents, line.due);
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
                Line *offset = fd_add_line(sp, "OFFSET", line.reason, part, line.due);
                if (offset) { offset->payee_type = "PATIENT"; offset->payee_id = line.payee_id; offset->target = debit->account; }
            }
        }
        if (amount <= 0) continue;
        Line *rest = amount < floor ? fd_add_line(sp, "HOLD", line.reason, amount, NO_DAY)
                                    : fd_add_line(sp, "REFUND", line.reason, amount, line.due);
        if (rest) { rest->payee_type = "PATIENT"; rest->payee_id = line.payee_id; }
    }
    return sp->failed ? -1 : split_lines;
}

/* One account in credit as a case: its lines (split, then offsets and holds), as a JSON line. */
static int write_case(Split *sp, const Account *acc, Row *rows, Py_ssize_t n, Pool *pool, Out *o) {
    if (fd_split_lines(sp, acc, rows, n) < 0) return -1;
    Py_ssize_t split_lines = offsets_and_holds(sp, pool);
    if (split_lines < 0) return -1;
    int64_t refund_total = 0;
    int32_t due = NO_DAY;
    for (Py_ssize_t i = split_lines; i < sp->n_lines; i++) {
        if (strcmp(sp->lines[i].action, "REFUND") == 0) refund_total += sp->lines[i].cents;
        if (sp->lines[i].due != NO_DAY && (due == NO_DAY || sp->lines[i].due < due)) due = sp->lines[i].due;
    }
    int tier = refund_total <= 0 ? 0 : refund_total < sp->st->tier2 ? 1 : refund_total < sp->st->tier3 ? 2 : 3;
    char id[20], buf[64];
    if (case_id(acc->id, episode_start(rows, n), id) < 0) { fd_no_memory(); return -1; }
    fd_puts(o, "{\"case_id\": \""); fd_puts(o, id);
    fd_puts(o, "\", \"account_id\": "); fd_put_json_str(o, acc->id);
    fd_puts(o, ", \"patient_id\": "); fd_put_json_str(o, acc->patient);
    fd_puts(o, ", \"guarantor_id\": "); fd_put_json_str(o, acc->guarantor);
    fd_puts(o, ", \"credit\": "); fd_put_money(o, -acc->cents);
    fd_puts(o, ", \"identified_on\": "); fd_put_date(o, sp->today);
    fd_puts(o, ", \"due_date\": "); fd_put_date(o, due);
    snprintf(buf, sizeof buf, ", \"tier\": %d, \"lines\": [", tier);
    fd_puts(o, buf);
    for (Py_ssize_t i = split_lines; i < sp->n_lines; i++) {
        Line *line = &sp->lines[i];
        if (i > split_lines) fd_puts(o, ", ");
        fd_puts(o, "{\"action\": "); fd_put_optional(o, line->action);
        fd_puts(o, ", \"reason\": "); fd_put_optional(o, line->reason);
        fd_puts(o, ", \"payee_type\": "); fd_put_optional(o, line->payee_type);
        fd_puts(o, ", \"payee_id\": "); fd_put_optional_str(o, line->payee_id);
        fd_puts(o, ", \"amount\": "); fd_put_money(o, line->cents);
        fd_puts(o, ", \"due_date\": "); fd_put_date(o, line->due);
        fd_puts(o, ", \"target_account_id\": "); fd_put_optional_str(o, line->target);
        fd_puts(o, "}");
    }
    fd_puts(o, "]}\n");
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
        Row *bigger = fd_grow(*rows, cap, n + 1, sizeof(Row));
        if (!bigger) return -1;
        *rows = bigger;
        int64_t source = s->part.links[link].source;
        if (source < 0) { bigger[n++] = s->overrides[-1 - source]; continue; }
        const char *p = s->data + source;
        Py_ssize_t len;
        fd_line(p, s->data + s->size, &len);
        if (fd_split_line(s, p, len, f) != 1 || !fd_row_from_fields(f, s->id_max_length, &bigger[n])) {
            PyErr_SetString(PyExc_SystemError, "a clean row read differently the second time");
            return -1;
        }
        n++;
    }
    return n;
}

/* detect(today, settings) -> (JSON lines of the cases, count): every account in credit, by account id. */
PyObject *fd_detect(Scan *s, PyObject *args) {
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
    Row *rows = NULL;
    Py_ssize_t cap_rows = 0, n_credit = 0, n_pools = 0;
    Split sp;
    memset(&sp, 0, sizeof sp);
    sp.st = &st;
    sp.today = today;
    Out o = {0};
    if (!credit || fd_map_init(&guarantors, 64) < 0) goto fail;
    for (Py_ssize_t a = 0; a < s->part.n_accounts; a++)
        if (s->part.accounts[a].cents < 0) credit[n_credit++] = (int32_t)a;
    sort_accounts = s->part.accounts;
    qsort(credit, (size_t)n_credit, sizeof(int32_t), by_account_id);
    /* the guarantors' pools of debts (detection.DebitPool), oldest service first */
    for (Py_ssize_t c = 0; c < n_credit; c++) {
        int added;
        if (fd_map_put(&guarantors, s->part.accounts[credit[c]].guarantor, (int32_t)n_pools, &added) < -1) goto fail;
        if (added) n_pools++;
    }
    pools = PyMem_RawCalloc((size_t)n_pools + 1, sizeof(Pool));
    debits = PyMem_RawMalloc(((size_t)s->part.n_accounts + 1) * sizeof(Debit));
    if (!pools || !debits) { PyErr_NoMemory(); goto fail; }
    int32_t *pool_of = PyMem_RawMalloc(((size_t)s->part.n_accounts + 1) * sizeof(int32_t));
    if (!pool_of) { PyErr_NoMemory(); goto fail; }
    for (Py_ssize_t a = 0; a < s->part.n_accounts; a++) {
        pool_of[a] = s->part.accounts[a].cents > 0 ? fd_map_get(&guarantors, s->part.accounts[a].guarantor) : -1;
        if (pool_of[a] >= 0) pools[pool_of[a]].n++;
    }
    for (Py_ssize_t p = 0, at = 0; p < n_pools; p++) { pools[p].debits = debits + at; at += pools[p].n; pools[p].n = 0; }
    for (Py_ssize_t a = 0; a < s->part.n_accounts; a++) {
        if (pool_of[a] < 0) continue;
        Pool *pool = &pools[pool_of[a]];
        Debit *d = &pool->debits[pool->n++];
        d->first = s->part.accounts[a].first; d->account = s->part.accounts[a].id; d->remaining = s->part.accounts[a].cents;
    }
    PyMem_RawFree(pool_of);
    for (Py_ssize_t p = 0; p < n_pools; p++) qsort(pools[p].debits, (size_t)pools[p].n, sizeof(Debit), debit_order);

    for (Py_ssize_t c = 0; c < n_credit; c++) {
        const Account *acc = &s->part.accounts[credit[c]];
        Py_ssize_t n = rows_of(s, acc, &rows, &cap_rows);
        if (n < 0) goto fail;
        int32_t g = fd_map_get(&guarantors, acc->guarantor);
        Pool *pool = g >= 0 && pools[g].n ? &pools[g] : NULL;
        if (write_case(&sp, acc, rows, n, pool, &o) < 0) {
            if (!PyErr_Occurred()) PyErr_NoMemory();
            goto fail;
        }
    }
    if (o.failed) { PyErr_NoMemory(); goto fail; }
    result = Py_BuildValue("(y#n)", o.p ? o.p : "", o.n, n_credit);
fail:
    PyMem_RawFree(credit); PyMem_RawFree(pools); PyMem_RawFree(debits); fd_map_free(&guarantors);
    PyMem_RawFree(rows); PyMem_RawFree(o.p);
    fd_split_free(&sp);
    if (!result) fd_no_memory();
    return result;
}
