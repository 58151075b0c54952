"""The HTML of the approval pages and of every mail, as Jinja2 templates that escape every value.

Kept here as text (no template files to read): rendering is pure. `render` is the only way HTML
is made; nothing builds it with f-strings.
"""

from __future__ import annotations

from typing import Any

from jinja2 import DictLoader, Environment, StrictUndefined

from creditrefunds.domain.console_templates import CONSOLE_TEMPLATES
from creditrefunds.domain.console_templates import STYLE as _STYLE

_LINES = """<table id='lines'><tr><th>Action</th><th>Reason</th><th>Payee type</th><th>Payee</th><th>Amount</th>\
<th>Due</th></tr>{% for line in lines %}<tr><td>{{ line.action }}</td><td>{{ line.reason }}</td>\
<td>{{ line.payee_type or '-' }}</td><td>{{ line.payee or '-' }}</td><td class='amount'>{{ line.amount }}</td>\
<td>{{ line.due_date or '-' }}</td></tr>{% endfor %}</table>"""
# Said before anything else: a payee an earlier approval of the case did not see.
_CHANGES = """{% if payee_changes %}<div id='payee-changes' class='error'><p>The payee changed since an earlier \
approval of this case:</p><ul>{% for change in payee_changes %}<li>{{ change }}</li>{% endfor %}</ul></div>\
{% endif %}"""

TEMPLATES = {
    "document.html": "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{{ title }}</title>"
                     "<meta name='robots' content='noindex'><style>" + _STYLE + "</style></head>"
                     "<body><main><h1>{{ title }}</h1>{% block body %}{% endblock %}</main></body></html>",
    "answer.html": "{% extends 'document.html' %}{% block body %}<p id='message'>{{ message }}</p>{% endblock %}",
    "case.html": "{% extends 'document.html' %}{% block body %}" + _CHANGES +
                 "{% if error %}<p class='error' id='error'>{{ error }}</p>{% endif %}"
                 "<dl><dt>Case</dt><dd id='case-id'>{{ case_id }}</dd>"
                 "<dt>Account</dt><dd id='account'>{{ account }}</dd>"
                 "<dt>Patient</dt><dd>{{ patient }}</dd><dt>Credit</dt><dd id='credit'>{{ credit }}</dd>"
                 "<dt>Refund total</dt><dd id='refund'>{{ refund }}</dd><dt>Due date</dt><dd>{{ due }}</dd>"
                 "<dt>Approval tier</dt><dd>{{ tier }}</dd></dl>" + _LINES +
                 "<form method='post'><input type='hidden' name='csrf' value=''>"
                 "<p><label for='reason'>Reason (required to reject)</label><br>"
                 "<textarea id='reason' name='reason' rows='3' cols='60'></textarea></p>"
                 "<button type='submit' name='decision' value='approve' id='approve'>Approve</button>"
                 "<button type='submit' name='decision' value='reject' id='reject'>Reject</button>"
                 "{% if investigable %}<button type='submit' name='decision' value='investigate' id='investigate'>"
                 "Investigate</button>{% endif %}</form>"
                 "<p>Opening this page decides nothing; only a button does, once.</p>"
                 "<form method='post' action='/signout'><input type='hidden' name='csrf' value=''>"
                 "<button type='submit' id='sign-out'>Sign out</button></form>{% endblock %}",
    "approval_mail.html": "<!doctype html><html><body>" + _CHANGES +
                          "<p>A credit balance refund needs your approval (tier {{ tier }}).</p>"
                          "<table><tr><th align='left'>Account</th><td>{{ account }}</td></tr>"
                          "<tr><th align='left'>Patient</th><td>{{ patient }}</td></tr>"
                          "<tr><th align='left'>Credit</th><td>{{ credit }}</td></tr>"
                          "<tr><th align='left'>Refund</th><td>{{ refund }}</td></tr>"
                          "<tr><th align='left'>Due date</th><td>{{ due }}</td></tr></table>" + _LINES +
                          "<p><a href='{{ link }}'>Open the case to approve or reject it</a></p>"
                          "<p>The link works once and expires; opening it decides nothing.</p></body></html>",
    "signin.html": "{% extends 'document.html' %}{% block body %}"
                   "{% if error %}<p class='error' id='error'>{{ error }}</p>{% endif %}"
                   "{% if provider and not session %}<form method='post' action='/auth/start'>"
                   "<input type='hidden' name='pre' value='{{ pre }}'>"
                   "<input type='hidden' name='next' value='{{ next }}'><button type='submit' id='sso'>Sign in "
                   "with {{ provider }}</button></form><p>Or with the console's own account:</p>{% endif %}"
                   "<form method='post' action='/signin'><input type='hidden' name='next' value='{{ next }}'>"
                   "<input type='hidden' name='pre' value='{{ pre }}'>"
                   "{% if session %}<input type='hidden' name='session' value='{{ session }}'>"
                   "<input type='hidden' name='username' value='{{ username }}'>"
                   "{% if secret %}<input type='hidden' name='setup' value='1'><p>Your account needs an "
                   "authenticator app. Add this key to it (time-based, 6 digits): <code id='secret'>{{ secret }}"
                   "</code></p>{% endif %}"
                   "<p><label for='code'>Code from your authenticator app</label><br>"
                   "<input id='code' name='code' autocomplete='one-time-code' inputmode='numeric' required></p>"
                   "{% else %}<p><label for='username'>User name</label><br>"
                   "<input id='username' name='username' autocomplete='username' required></p>"
                   "<p><label for='password'>Password</label><br><input id='password' name='password' "
                   "type='password' autocomplete='current-password' required></p>{% endif %}"
                   "<button type='submit' id='sign-in'>Sign in</button></form>{% endblock %}",
    "plain_mail.html": "<!doctype html><html><body><pre>{{ text }}</pre></body></html>",
    **CONSOLE_TEMPLATES,
}

_ENVIRONMENT = Environment(loader=DictLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined)


def render(name: str, **values: Any) -> str:
    return _ENVIRONMENT.get_template(name).render(**values)
