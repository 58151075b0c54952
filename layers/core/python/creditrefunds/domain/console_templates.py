"""The console's pages as Jinja2 templates (rendered by domain/templates.py, every value escaped).

Every form posts the session's form token (`csrf`); no page has a script, so the CSP forbids all of them.
Nothing that names a patient or an account goes in a URL: ids of cases and items only, and searches post.
"""

from __future__ import annotations

STYLE = ("body{font-family:system-ui,sans-serif;max-width:80rem;margin:2rem auto;padding:0 1rem}"
         "table{border-collapse:collapse}td,th{border:1px solid #999;padding:.3rem .6rem;text-align:left}"
         ".amount{text-align:right}.error{color:#a00;font-weight:bold}button{margin-right:.6rem;padding:.4rem 1rem}")
_FORM_TOKEN = "<input type='hidden' name='csrf' value='{{ csrf }}'>"  # noqa: S105 (a form field, not a secret)
_NAV = ("<nav id='nav'><a href='/'>Worklist</a> | <a href='/?mine=1'>Taken by me</a> | "
        "<a href='/compliance'>Compliance</a> | <a href='/unclaimed'>Unclaimed</a> | <a href='/trends'>Trends</a> | "
        "<a href='/audit'>Audit</a> | "
        "<span id='who'>{{ who }}</span> "
        "<form method='post' action='/signout' style='display:inline'>" + _FORM_TOKEN +
        "<button type='submit' id='sign-out'>Sign out</button></form></nav>")
_FLASH = ("{% if error %}<p class='error' id='error'>{{ error }}</p>{% endif %}"
          "{% if done %}<p id='done'>{{ done }}</p>{% endif %}")
_HEAD = ("<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{{ title }}</title>"
         "<meta name='robots' content='noindex'><style>" + STYLE + "</style></head><body>" + _NAV +
         "<main><h1>{{ title }}</h1>" + _FLASH)
_TAIL = "</main></body></html>"

CONSOLE_TEMPLATES = {
    "worklist.html": _HEAD +
    "<p>Sort: {% for name, label in [('due', 'due date'), ('amount', 'amount'), ('age', 'age')] %}"
    "{% if name == view and not mine %}<strong>{{ label }}</strong>{% else %}"
    "<a id='sort-{{ name }}' href='/?view={{ name }}'>{{ label }}</a>{% endif %} {% endfor %}</p>"
    "{% if not mine %}<form method='get' action='/' id='narrow'><input type='hidden' name='view' value='{{ view }}'>"
    "<label>kind <select name='kind' id='kind'><option value=''>all</option>{% for name, label in kinds.items() %}"
    "<option value='{{ name }}'{% if asked.kind == name %} selected{% endif %}>{{ label }}</option>{% endfor %}"
    "</select></label> {% if view == 'due' %}<label><input type='checkbox' name='overdue' value='1' id='overdue'"
    "{% if asked.overdue == '1' %} checked{% endif %}> overdue only</label>{% elif view == 'amount' %}<label>from "
    "<input name='min' id='min' size='8' value='{{ asked.min }}'></label>{% else %}<label>older than "
    "<input name='older' id='older' size='4' value='{{ asked.older }}'> days</label>{% endif %} "
    "<button type='submit' id='narrow-go'>Show</button></form>{% endif %}"
    "<table id='worklist'><tr><th>Account</th><th>Amount</th><th>Reason</th><th>What to do</th><th>Due</th>"
    "<th>Age (days)</th><th>Taken by</th><th></th></tr>"
    "{% for item in items %}<tr class='item{% if item.overdue %} overdue{% endif %}' id='item-{{ item.item_id }}'>"
    "<td>{{ item.account }}</td><td class='amount'>{{ item.amount }}</td><td>{{ item.reason }}</td>"
    "<td>{{ item.todo }}</td><td>{{ item.due or '-' }}{% if item.overdue %} <strong class='error'>OVERDUE</strong>"
    "{% endif %}</td><td>{{ item.age }}</td><td>{{ item.assignee or '-' }}</td>"
    "<td><a href='/cases/{{ item.case_id }}'>Open case</a>{% if can_work %}"
    "{% if not item.assignee %}<form method='post' action='/work/{{ item.item_id }}/take'>" + _FORM_TOKEN +
    "<button type='submit' class='take'>Take</button></form>{% else %}"
    "<form method='post' action='/work/{{ item.item_id }}/done'>" + _FORM_TOKEN +
    "<input name='what' class='what' placeholder='what was done' required>"
    "<button type='submit' class='done'>Done</button></form>{% endif %}{% endif %}</td></tr>{% endfor %}</table>"
    "{% if not items %}<p id='empty'>No open work items.</p>{% endif %}"
    "{% if next_cursor %}<p><a id='next' href='/?view={{ view }}{% if mine %}&mine=1{% endif %}"
    "{% if narrowing %}&{{ narrowing }}{% endif %}&cursor={{ next_cursor|urlencode }}'>Next page</a></p>{% endif %}"
    + _TAIL,

    "case_view.html": _HEAD +
    "<dl><dt>Case</dt><dd id='case-id'>{{ case.case_id }}</dd><dt>Account</dt><dd id='account'>{{ case.account }}"
    "</dd><dt>Status</dt><dd id='status'>{{ case.status }}{% if case.overdue %} <strong class='error'>OVERDUE"
    "</strong>{% endif %}</dd><dt>Credit</dt><dd>{{ case.credit }}</dd><dt>Refund total</dt><dd>{{ case.refund }}"
    "</dd><dt>Due</dt><dd>{{ case.due or '-' }}</dd><dt>Tier</dt><dd>{{ case.tier }}</dd></dl>"
    "<h2>Lines</h2><table id='lines'><tr><th>Action</th><th>Reason</th><th>Payee</th><th>Amount</th><th>Due</th>"
    "<th>835 evidence</th></tr>{% for line in lines %}<tr><td>{{ line.action }}</td><td>{{ line.reason }}</td>"
    "<td>{{ line.payee or '-' }}</td><td class='amount'>{{ line.amount }}</td><td>{{ line.due_date or '-' }}</td>"
    "<td>{{ line.evidence or '-' }}</td></tr>{% endfor %}</table>"
    "<h2>Ledger rows of the account</h2><table id='ledger'><tr><th>Row</th><th>Type</th><th>Amount</th>"
    "<th>Posted</th><th>Payer</th><th>Reference</th><th>Claim</th></tr>{% for row in ledger %}<tr>"
    "<td>{{ row.txn_id }}</td><td>{{ row.type }}</td><td class='amount'>{{ row.amount }}</td><td>{{ row.posted }}"
    "</td><td>{{ row.payer }}</td><td>{{ row.reference }}</td><td>{{ row.claim }}</td></tr>{% endfor %}</table>"
    "<h2>Refund instructions (accounts-payable rows)</h2><table id='instructions'><tr><th>Instruction</th>"
    "<th>Issued</th><th>Payee</th><th>Amount</th><th>Method</th></tr>{% for row in instructions %}<tr>"
    "<td>{{ row.instruction_id }}</td><td>{{ row.issued_on }}</td><td>{{ row.payee_type }} {{ row.payee_id }}</td>"
    "<td class='amount'>{{ row.amount }}</td><td>{{ row.method }}</td></tr>{% endfor %}</table>"
    "<h2>History</h2>{% if verified %}<div id='verdict' class='error'><p>The history fails its check:</p><ul>"
    "{% for problem in verified %}<li>{{ problem }}</li>{% endfor %}</ul></div>{% else %}"
    "<p id='verdict'>Verified: the chain of records is whole.</p>{% endif %}"
    "<table id='history'><tr><th>#</th><th>When</th><th>Who</th><th>What</th><th>Status</th><th>Why</th></tr>"
    "{% for r in history %}<tr><td>{{ r.seq }}</td><td>{{ r.at }}</td><td>{{ r.actor }}</td><td>{{ r.action }}</td>"
    "<td>{{ r.status }}</td><td>{{ r.reason }}</td></tr>{% endfor %}</table>"
    "{% if can_note %}<form method='post' action='/cases/{{ case.case_id }}/notes'>" + _FORM_TOKEN +
    "<p><label for='note'>Note (goes into the history)</label><br><textarea id='note' name='note' rows='3' "
    "cols='60' required></textarea></p><button type='submit' id='add-note'>Add note</button></form>{% endif %}"
    "{% if can_retry %}<form method='post' action='/cases/{{ case.case_id }}/retry'>" + _FORM_TOKEN +
    "<button type='submit' id='retry'>Retry from its last good step</button></form>{% endif %}" + _TAIL,

    "compliance.html": _HEAD +
    "<h2>Deadlines: overdue, and due within 10 days</h2><table id='deadlines'><tr><th>Case</th><th>Account</th>"
    "<th>Status</th><th>Refund</th><th>Due</th></tr>{% for row in deadlines %}<tr{% if row.overdue %} "
    "class='overdue'{% endif %}><td><a href='/cases/{{ row.case_id }}'>{{ row.case_id }}</a></td>"
    "<td>{{ row.account }}</td><td>{{ row.status }}</td><td class='amount'>{{ row.refund }}</td><td>{{ row.due }}"
    "{% if row.overdue %} <strong class='error'>OVERDUE</strong>{% endif %}</td></tr>{% endfor %}</table>"
    "<h2>Investigations</h2><table id='investigations'><tr><th>Case</th><th>Account</th><th>Days paused</th>"
    "<th>Cap</th><th>Left</th></tr>{% for row in investigations %}<tr><td><a href='/cases/{{ row.case_id }}'>"
    "{{ row.case_id }}</a></td><td>{{ row.account }}</td><td>{{ row.paused_days }}</td><td>{{ row.cap }}</td>"
    "<td>{{ row.left }}</td></tr>{% endfor %}</table>"
    "<h2>CMS-838 rows of open Medicare credits</h2><table id='cms838'><tr>{% for c in columns %}<th>{{ c }}</th>"
    "{% endfor %}</tr>{% for row in cms838 %}<tr>{% for c in columns %}<td>{{ row[c] }}</td>{% endfor %}</tr>"
    "{% endfor %}</table>" + _TAIL,

    "trends.html": _HEAD +
    "<p id='counted'>Credits from {{ first }} to {{ last }}, as the trends' counters hold them (counted each hour "
    "from the history).</p><table id='months'><tr><th>Month</th><th>Identified</th><th>Amount</th>"
    "<th>Open at its end</th><th>Overdue at its end</th><th>Refunded</th><th>Days to refund (median / 90th)"
    "</th><th>On time</th></tr>{% for m in months %}<tr><td>{{ m.month }}</td><td>{{ m.identified.count }}</td>"
    "<td class='amount'>{{ m.identified.amount }}</td><td>{{ m.open.count }}</td><td>{{ m.overdue.count }}</td>"
    "<td>{{ m.refunded.count }}</td><td>{{ m.refunded.days_median if m.refunded.days_median is not none else '-' }}"
    " / {{ m.refunded.days_p90 if m.refunded.days_p90 is not none else '-' }}</td><td>{% if m.on_time.share is "
    "not none %}{{ (100 * m.on_time.share) | round | int }}%{% else %}-{% endif %}</td></tr>{% endfor %}</table>"
    "<h2>Patterns</h2><table id='patterns'><tr><th>Month</th><th>What</th><th>Of</th><th>Credits</th>"
    "<th>Six months before</th><th>Examples</th></tr>{% for p in patterns %}<tr><td>{{ p.month }}</td>"
    "<td>{{ p.kind }}</td><td>{{ p.dimension }} {{ p.value }}</td><td>{{ p.count }} ({{ p.amount }})</td>"
    "<td>{{ p.trailing_counts | join(', ') }}</td><td>{% for c in p.examples %}<a href='/cases/{{ c }}'>{{ c }}"
    "</a> {% endfor %}</td></tr>{% endfor %}</table>" + _TAIL,

    "unclaimed.html": _HEAD +
    "<p id='as-of'>Refunds whose checks went astray, as of {{ today }}: each one's stage, next step and date "
    "(DOMAIN.md section 9). A corrected address given by one person is sent only once another confirms it.</p>"
    "<table id='unclaimed'><tr><th>Refund</th><th>State</th><th>Amount</th><th>Stage</th><th>Next step</th>"
    "<th>By</th><th>Dormant</th><th>Report due</th><th></th></tr>{% for r in rows %}"
    "<tr class='property' id='property-{{ r.instruction_id | replace('#', '-') }}'><td><a href='/cases/"
    "{{ r.case_id }}'>{{ r.instruction_id }}</a></td><td>{{ r.state }}</td><td class='amount'>{{ r.amount }}</td>"
    "<td>{{ r.stage }}</td><td>{{ r.next_step }}</td><td>{{ r.next_date or '-' }}</td><td>{{ r.dormant_on or '-' }}"
    "</td><td>{{ r.report_due or '-' }}</td><td>"
    "{% if r.asked %}<p>Corrected address: {{ r.asked.line1 }}, {{ r.asked.city }} {{ r.asked.state }} "
    "{{ r.asked.zip }}</p>{% if can_confirm and not r.asked_by_me %}<form method='post' action='/unclaimed/confirm'>"
    + _FORM_TOKEN + "<input type='hidden' name='instruction_id' value='{{ r.instruction_id }}'>"
    "<input type='hidden' name='seen' value='{{ r.seen }}'><button type='submit' class='confirm'>Confirm the "
    "reissue</button></form>{% endif %}"
    "{% elif can_work and r.reissuable %}<form method='post' action='/unclaimed/address'>" + _FORM_TOKEN +
    "<input type='hidden' name='instruction_id' value='{{ r.instruction_id }}'><input name='line1' "
    "placeholder='street' required> <input name='city' placeholder='city' required> <input name='state' size='2' "
    "placeholder='ST'> <input name='zip' size='10' placeholder='ZIP'> <button type='submit' class='address'>"
    "Reissue to this address</button></form>{% endif %}"
    "{% if can_work and r.answerable %}"
    "<form method='post' action='/unclaimed/answered'>" + _FORM_TOKEN + "<input type='hidden' "
    "name='instruction_id' value='{{ r.instruction_id }}'><input name='on' type='date' required> "
    "<button type='submit' class='answered'>The owner answered</button></form>{% endif %}</td></tr>{% endfor %}"
    "</table>" + _TAIL,

    "audit.html": _HEAD +
    "<form method='post' action='/audit'>" + _FORM_TOKEN +
    "{% for name in filters %}<label>{{ name }} <input name='{{ name }}' value='{{ query.get(name, \"\") }}'>"
    "</label> {% endfor %}<label>from <input name='from' type='date' value='{{ query.get(\"from\", \"\") }}'></label>"
    " <label>to <input name='to' type='date' value='{{ query.get(\"to\", \"\") }}'></label> "
    "<button type='submit' id='search'>Search</button></form>"
    "<table id='records'><tr><th>Case</th><th>#</th><th>When</th><th>Who</th><th>What</th><th>Why</th></tr>"
    "{% for r in records %}<tr><td><a href='/cases/{{ r.case_id }}'>{{ r.case_id }}</a></td><td>{{ r.seq }}</td>"
    "<td>{{ r.at }}</td><td>{{ r.actor }}</td><td>{{ r.action }}</td><td>{{ r.reason }}</td></tr>{% endfor %}"
    "</table>" + _TAIL,

    "message.html": _HEAD + "<p id='message'>{{ message }}</p><p><a href='/'>Back to the worklist</a></p>" + _TAIL,
}
