/* The Python module: scan() makes a Scan (the first pass, on every processor); its methods hand the
 * flagged rows to Python and take back what parse_row accepted, tell repeated txn_ids, give the clean
 * rows as transactions (ingest), and detect the cases (cases.c). */
#include "fastdetect.h"
#include <datetime.h>

PyObject *FdNotClean;

static void Scan_dealloc(Scan *s) {
    if (s->data) PyBuffer_Release(&s->view);
    PyMem_RawFree(s->role);
    fd_part_free(&s->part);
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
    result = fd_first_pass_parallel(s, parts);
    Py_END_ALLOW_THREADS
    if (result == -1) { Py_DECREF(s); return PyErr_NoMemory(); }
    if (result == -2) { Py_DECREF(s); PyErr_SetString(FdNotClean, "a row the reference reader reads across lines"); return NULL; }
    if (result == -3) { Py_DECREF(s); PyErr_SetString(FdNotClean, "not UTF-8 text, or a NUL byte"); return NULL; }
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
    char **owned = fd_grow(s->owned, &s->cap_owned, s->n_owned + 1, sizeof(char *));
    if (!owned) { fd_no_memory(); return -1; }
    s->owned = owned;
    char *copy = PyMem_RawMalloc((size_t)(n ? n : 1));
    if (!copy) { PyErr_NoMemory(); return -1; }
    s->owned[s->n_owned++] = copy;
    memcpy(copy, utf8, (size_t)n);
    out->p = copy; out->n = n;
    return 0;
}


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
    r.type = (int8_t)fd_lookup_code(type, TXN_TYPES, N_TXN_TYPES);
    r.ptype = (int8_t)fd_lookup_code(payer_type, PAYER_TYPES, N_PAYER_TYPES);
    if (!r.type || (payer_type.n && !r.ptype)) { PyErr_SetString(PyExc_ValueError, "not a row parse_row gives"); return NULL; }
    if (cents > LARGEST_CENTS || cents < -LARGEST_CENTS || resp > LARGEST_CENTS) {
        PyErr_SetString(FdNotClean, "an amount of more than ten integer digits");
        return NULL;
    }
    r.cents = cents; r.resp = resp; r.posting = posting; r.rank = (int8_t)rank;
    r.service = service == Py_None ? NO_DAY : (int32_t)PyLong_AsLong(service);
    if (PyErr_Occurred()) return NULL;
    Row *rows = fd_grow(s->overrides, &s->cap_overrides, s->n_overrides + 1, sizeof(Row));
    if (!rows) return fd_no_memory();
    s->overrides = rows;
    rows[s->n_overrides] = r;
    if (fd_add_row(&s->part, &r, -1 - s->n_overrides) < 0) return fd_no_memory();
    s->n_overrides++;
    Py_RETURN_NONE;
}

/* check_ids(ids): add the flagged rows' txn_ids; True when any txn_id of the file appears twice. */
static PyObject *Scan_check_ids(Scan *s, PyObject *ids) {
    if (!PyList_Check(ids)) { PyErr_SetString(PyExc_TypeError, "a list of str"); return NULL; }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(ids); i++) {
        Str id;
        if (own_text(s, PyList_GET_ITEM(ids, i), &id) < 0 || fd_add_txn_id(&s->part, id) < 0) return fd_no_memory();
    }
    int repeated = fd_repeated_ids(&s->part);
    return repeated < 0 ? NULL : PyBool_FromLong(repeated);
}

/* ------------------------------------------------------------------ the rows themselves (ingest) */

static PyObject *text_or_none(Str v) {
    if (!v.n) Py_RETURN_NONE;
    return PyUnicode_FromStringAndSize(v.p, v.n);
}

static PyObject *date_or_none(Str v) {
    int32_t day;
    if (!v.n || !fd_parse_date(v, &day)) Py_RETURN_NONE;
    int y, m, d;
    fd_civil_from_days(day, &y, &m, &d);
    return PyDate_FromDate(y, m, d);
}

static PyObject *money_or_none(PyObject *decimal, Str v) {  /* money(): two places */
    int64_t cents;
    if (!v.n || !fd_parse_amount(v, 1, &cents)) Py_RETURN_NONE;
    char text[32];
    fd_money_text(cents, text);
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
        Py_ssize_t n;
        const char *next = fd_line(p, end, &n);
        if (n && fd_split_line(s, p, n, f) == 1 && fd_row_from_fields(f, s->id_max_length, &r)) {
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
            PyObject *item = NULL;
            if (failed) Py_XDECREF(txn);
            else item = Py_BuildValue("(nN)", line, txn);  /* (N takes txn over, built or not) */
            if (!item || PyList_Append(list, item) < 0) { Py_XDECREF(item); Py_DECREF(list); return NULL; }
            Py_DECREF(item);
        }
        line++;
        p = next;
    }
    return Py_BuildValue("(Nnn)", list, p - s->data, line);
}

static PyMethodDef Scan_methods[] = {
    {"flagged", (PyCFunction)Scan_flagged, METH_NOARGS,
     "flagged() -> [(line index, line)]: the rows Python reads, in file order."},
    {"accept", (PyCFunction)Scan_accept, METH_VARARGS, "accept(...): a flagged row parse_row accepted."},
    {"check_ids", (PyCFunction)Scan_check_ids, METH_O, "check_ids(ids) -> True when a txn_id appears twice."},
    {"detect", (PyCFunction)fd_detect, METH_VARARGS, "detect(today, settings) -> (JSON lines, cases)."},
    {"values", (PyCFunction)Scan_values, METH_VARARGS,
     "values(Decimal, Transaction, names, offset, line, limit) -> (rows, offset, line): clean rows as Transactions."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ScanType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "creditrefunds.domain._fastdetect.Scan",
    .tp_basicsize = sizeof(Scan),
    .tp_dealloc = (destructor)Scan_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "One CSV ledger's first pass; detect() gives its cases.",
    .tp_methods = Scan_methods,
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
    FdNotClean = PyErr_NewException("creditrefunds.domain._fastdetect.NotClean", NULL, NULL);
    PyObject *fields = Py_BuildValue("(sssssssssssssssssssssss)", "txn_id", "account_id", "patient_id",
                                     "guarantor_id", "txn_type", "amount", "posting_date", "payer_type", "payer_id",
                                     "coverage_rank", "reference", "claim_id", "patient_resp", "adj_code",
                                     "reversal_of", "service_date", "admit_date", "discharge_date", "patient_state",
                                     "type_of_bill", "mbi", "patient_name", "facility_id");
    if (!FdNotClean || !fields || PyModule_AddObjectRef(m, "NotClean", FdNotClean) < 0
        || PyModule_AddObjectRef(m, "FIELDS", fields) < 0) {
        Py_XDECREF(fields);
        Py_DECREF(m);
        return NULL;
    }
    Py_DECREF(fields);
    return m;
}
