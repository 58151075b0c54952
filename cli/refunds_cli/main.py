"""`refunds`: the command line of the credit-balance refund workflow."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from localcloud.names import DEFAULT_STACK_NAME, PROJECT_ROOT

from refunds_cli.argtypes import iso_date
from refunds_cli.target import Target, TargetError, connect

if TYPE_CHECKING:
    from creditrefunds.domain.ledger import RowError


Command = Callable[[argparse.Namespace], int]
# The modules that add commands, and the commands each adds: a command imports only its own module
# (`refunds detect` needs no AWS SDK, and starts in a tenth of the time without it).
COMMAND_MODULES = {
    "refunds_cli.cases": ("cases", "case"),
    "refunds_cli.audit": ("audit",),
    "refunds_cli.reports": ("report",),
    "refunds_cli.operations": ("sweep",),
    "refunds_cli.doctor": ("doctor",),
    "refunds_cli.remit": ("remit",),
    "refunds_cli.trends": ("trends",),
    "refunds_cli.escheat": ("escheat", "letters"),
}


def _target(args: argparse.Namespace) -> Target:
    return connect(args.endpoint_url, args.stack_name, args.region)


def cmd_local_up(args: argparse.Namespace) -> int:
    """Run the local cloud in the foreground until Ctrl-C."""
    from localcloud.cloud import LocalCloud

    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    with LocalCloud(PROJECT_ROOT, port=args.port, stack_name=args.stack_name, region=args.region,
                    demo_users=args.demo_users) as cloud:
        print(f"AWS endpoint:   {cloud.endpoint_url}")
        print(f"Console:        {cloud.outputs['ApprovalSiteUrl']} (sign in; mailed approval links open here)")
        if cloud.users:
            print(f"Demo users:     refunds --endpoint-url {cloud.endpoint_url} users --json")
        print(f"Local console:  {cloud.console_url} (mail sent through SES)")
        print(f"Drop ledgers:   s3://{cloud.outputs['LedgerBucketName']}/incoming/")
        print(f"Try: refunds --endpoint-url {cloud.endpoint_url} mail")
        print("Ready. Ctrl-C stops the local cloud.", flush=True)
        try:
            stopped.wait()
        except KeyboardInterrupt:
            pass
    return 0


def cmd_mail(args: argparse.Namespace) -> int:
    """List the mail sent through SES in the local cloud."""
    import urllib.request

    target = _target(args)
    if not target.endpoint_url:
        raise TargetError("mail is kept only by the local cloud: in AWS, SES delivers it")
    with urllib.request.urlopen(target.output("LocalConsoleUrl") + "mail.json", timeout=30) as response:
        messages = json.load(response)
    if args.json:
        summaries = [{k: m[k] for k in ("to", "subject", "sent_at", "links")} for m in messages]
        print(json.dumps(summaries, indent=2))
        return 0
    if not messages:
        print("No mail sent yet.")
    for message in messages:
        print(f"{message['sent_at']}  to {', '.join(message['to'])}")
        print(f"  {message['subject']}")
        for link in message["links"]:
            print(f"  {link}")
    return 0


def cmd_users(args: argparse.Namespace) -> int:
    """The demo users `local up --demo-users` made, with their passwords and TOTP secrets: the local cloud only."""
    from localcloud.identity import users_parameter

    if not args.endpoint_url:
        raise TargetError("users lists the local cloud's demo users only (--endpoint-url): a deployed pool's users "
                          "are managed in Cognito, and their passwords are nobody's to list")
    target = _target(args)
    try:
        value = target.client("ssm").get_parameter(Name=users_parameter(target.stack_name),
                                                   WithDecryption=True)["Parameter"]["Value"]
    except Exception as error:
        raise TargetError("no demo users: start the local cloud with `refunds local up --demo-users`") from error
    print(json.dumps(json.loads(value), indent=2))
    return 0


def cmd_drop(args: argparse.Namespace) -> int:
    """Put a ledger file into the bucket's incoming/ prefix, as the billing system does."""
    path: Path = args.file
    if not path.is_file():
        raise TargetError(f"no such file: {path}")
    target = _target(args)
    bucket = target.output("LedgerBucketName")
    key = f"incoming/{args.name or path.name}"
    target.client("s3").upload_file(str(path), bucket, key)
    print(f"dropped s3://{bucket}/{key}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """The product's main job end to end on the local cloud."""
    from refunds_cli.demo import run_demo

    return run_demo(PROJECT_ROOT)



def cmd_detect(args: argparse.Namespace) -> int:
    """Detect credit balances in a ledger file; one JSON case per line on standard output."""
    from creditrefunds.domain.ledger import LedgerUnreadable
    from creditrefunds.domain.ledger_files import format_for
    from creditrefunds.domain.settings import SettingsError

    from refunds_cli.detect import detect_file_json, load_settings

    rejected = 0
    try:
        settings = load_settings(args.settings)
        fmt = format_for(str(args.ledger), args.format)
        with contextlib.ExitStack() as stack:
            rejects = stack.enter_context(open(args.rejects, "w", encoding="utf-8")) if args.rejects else None

            def on_reject(error: RowError) -> None:
                nonlocal rejected
                rejected += 1
                if rejects is not None:
                    rejects.write(json.dumps(error.to_json()) + "\n")

            lines, cases = detect_file_json(args.ledger, fmt, args.as_of, settings, on_reject)
    except (LedgerUnreadable, SettingsError) as error:
        print(f"refunds detect: {args.ledger}: {error}" if isinstance(error, LedgerUnreadable)
              else f"refunds detect: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"refunds detect: cannot read {error.filename}: {error.strerror}", file=sys.stderr)
        return 2
    sys.stdout.flush()
    sys.stdout.buffer.write(lines)
    sys.stdout.buffer.flush()
    print(f"{rejected} rejected row(s); {cases} credit balance case(s)", file=sys.stderr)
    return 0


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command line; given the `command` asked for, only what that command needs is imported."""
    parser = argparse.ArgumentParser(prog="refunds", description=__doc__)
    parser.add_argument("--endpoint-url", help="talk to the local cloud at this URL (e.g. http://127.0.0.1:4599)")
    parser.add_argument(
        "--stack-name", default=DEFAULT_STACK_NAME, help="the stack's name: deployed, or in the local cloud"
    )
    parser.add_argument("--region", default="us-east-1")
    commands = parser.add_subparsers(dest="command", required=True)

    local = commands.add_parser("local", help="the local cloud").add_subparsers(dest="local_command", required=True)
    up = local.add_parser("up", help="run the whole stack on moto until Ctrl-C")
    up.add_argument("--port", type=int, default=4599)
    up.add_argument("--demo-users", action="store_true",
                    help="make one user per role (and a second tier-3 approver) with passwords and TOTP set up")
    up.set_defaults(func=cmd_local_up)

    detect = commands.add_parser("detect", help="credit balances in a ledger file (no AWS needed)")
    detect.add_argument("ledger", type=Path)
    detect.add_argument("--as-of", type=iso_date, required=True, help="the day the credits are identified")
    detect.add_argument("--rejects", type=Path, help="write each rejected row as a JSON line here")
    detect.add_argument("--settings", type=Path, help="JSON file overriding the rules' settings")
    detect.add_argument("--format", choices=["csv", "jsonl"], help="default: from the file's extension")
    detect.set_defaults(func=cmd_detect)

    drop = commands.add_parser("drop", help="put a ledger file into the ledger bucket's incoming/")
    drop.add_argument("file", type=Path)
    drop.add_argument("--name", help="the object's name under incoming/ (default: the file's name)")
    drop.set_defaults(func=cmd_drop)

    demo = commands.add_parser("demo", help="the main job end to end on the local cloud")
    demo.set_defaults(func=cmd_demo)

    for module, names in COMMAND_MODULES.items():
        if command is None or command in names:
            importlib.import_module(module).register(commands, _target)

    users = commands.add_parser("users", help="the demo users of the local cloud's user pool (local cloud only)")
    users.add_argument("--json", action="store_true", help="as JSON (the only format)")
    users.set_defaults(func=cmd_users)

    mail = commands.add_parser("mail", help="mail sent through SES (local cloud)")
    mail.add_argument("--json", action="store_true")
    mail.set_defaults(func=cmd_mail)
    return parser


def _command_in(argv: list[str]) -> str | None:
    """The command word of `argv` when it is one of this module's own (None: build every command)."""
    words = iter(argv)
    for word in words:
        if word in ("--endpoint-url", "--stack-name", "--region"):
            next(words, None)  # its value
        elif not word.startswith("-"):
            return word if word in ("local", "detect", "drop", "demo", "mail", "users") else None
    return None


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(_command_in(argv)).parse_args(argv)
    command: Command = args.func
    try:
        return command(args)
    except TargetError as error:
        print(f"refunds: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
