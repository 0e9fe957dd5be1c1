"""The operator's commands: agencies, API keys and the audit trail (``onereturn agencies|keys|audit``)."""

from __future__ import annotations

import getpass
import socket
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from cli.shared import err, out, ready_engine
from onereturn.errors import InvalidInput, OneReturnError

agencies_app = typer.Typer(help="Agencies: import them from a spreadsheet, list and show them.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys: issue, list, revoke and rotate.", no_args_is_help=True)


def operator() -> str:
    """Name the person at the command line for the audit trail."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"cli: {user}@{socket.gethostname()}"


def record(action: str, object: str, outcome: str = "ok", detail: str = "", engine: Any = None) -> None:
    """Record a command-line action in the audit trail (in a transaction of its own)."""
    from onereturn import audittrail, db

    with db.session_scope(engine) as session:
        audittrail.record(
            session, principal=operator(), action=action, object=object, client="local", outcome=outcome, detail=detail
        )


def _audited(action: str, object: str, engine: Any, work: Any) -> Any:
    """Run ``work(session)`` in one transaction; record the action whether it succeeds or is refused."""
    from onereturn import db

    try:
        with db.session_scope(engine) as session:
            result = work(session)
    except OneReturnError as exc:
        record(action, object, "rejected" if exc.status_code != 404 else "not_found", exc.message, engine)
        raise
    return result


def _when(value: datetime | None) -> str:
    return "" if value is None else f"{value:%Y-%m-%d %H:%M}"


@agencies_app.command("import")
def agencies_import(
    file: Annotated[Path, typer.Argument(help="CSV or XLSX with columns code, name, body_type, email, orgs, returns")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check only; store nothing")] = False,
) -> None:
    """Import every agency of a spreadsheet, or none: each problem is printed with its row and column."""
    from mappings import registry

    if not file.is_file():
        raise OneReturnError(f"{file} is not a file")
    engine = ready_engine()
    result = _audited(
        "agency.import",
        f"file {file.name}",
        engine,
        lambda s: registry.import_agencies(
            s, file.read_bytes(), file.name, source=f"import: {file.name} by {operator()}", dry_run=dry_run
        ),
    )
    summary = f"{len(result.created)} created, {len(result.updated)} updated, {len(result.unchanged)} unchanged"
    if dry_run:
        err.print(f"Dry run: {summary} if imported; nothing was stored.")
        return
    record("agency.import", f"file {file.name}", detail=summary, engine=engine)
    err.print(f"Imported {file.name}: {summary}.")
    for ended in result.consent_ended:
        err.print(f"Consent of {ended} withdrawn: no longer a member of the region.")


@agencies_app.command("list")
def agencies_list() -> None:
    """List every agency: code, name, body type, how many org units and indicators, origin."""
    from mappings import registry
    from onereturn import db

    with db.session_scope(ready_engine()) as session:
        rows = registry.list_agencies(session)
    table = Table("code", "name", "body type", "orgs", "returns", "indicators", "origin")
    for a in rows:
        table.add_row(
            a.code, a.name, a.body_type, str(len(a.orgs)), ", ".join(a.returns), str(len(a.indicators)), a.origin
        )
    out.print(table)
    err.print(f"{len(rows)} agencies")


@agencies_app.command("show")
def agencies_show(code: Annotated[str, typer.Argument(help="The agency's code")]) -> None:
    """Show one agency: contact, org units, returns and the indicators it is the designated source of."""
    from mappings import registry
    from onereturn import db

    with db.session_scope(ready_engine()) as session:
        a = registry.describe(session, code)
    for label, value in (
        ("code", a.code),
        ("name", a.name),
        ("body type", a.body_type),
        ("email", a.email),
        ("orgs as given", " ".join(a.given_orgs)),
        ("org units", f"{len(a.orgs)}: {' '.join(a.orgs[:20])}{' ...' if len(a.orgs) > 20 else ''}"),
        ("returns", ", ".join(a.returns)),
        (
            "indicators",
            f"{len(a.indicators)}: {', '.join(a.indicators[:10])}{' ...' if len(a.indicators) > 10 else ''}",
        ),
        ("origin", f"{a.origin} ({a.source})"),
    ):
        out.print(f"{label:>14}  {value}", markup=False, highlight=False)


def _print_secret(secret: str, prefix: str, what: str) -> None:

    # The key alone on stdout, so it can be piped into a secret store; the words go to stderr.
    out.print(secret, markup=False, highlight=False)
    err.print(f"{what} {prefix}. This is the only time the key is shown: store it now.")


@keys_app.command("create")
def keys_create(
    role: Annotated[str, typer.Option("--role", help="officer, agency or regulator")],
    label: Annotated[str, typer.Option("--label", help="Who holds the key, e.g. 'Kent CYP performance team'")],
    agency: Annotated[str | None, typer.Option("--agency", help="The agency of an agency key")] = None,
    recipient: Annotated[str | None, typer.Option("--recipient", help="The recipient of a regulator key")] = None,
    approver: Annotated[
        bool, typer.Option("--approver", help="An agency key that may also sign off the agency's figures for release")
    ] = False,
) -> None:
    """Issue a key and print it once; only its hash and prefix are stored."""
    from mappings import keys

    engine = ready_engine()

    def work(session: Any) -> tuple[str, str]:
        row, secret = keys.create_key(
            session,
            role=role,
            label=label,
            agency_code=agency,
            recipient=recipient,
            created_by=operator(),
            approver=approver,
        )
        return row.prefix, secret

    prefix, secret = _audited("key.create", f"{role} key ({agency or recipient or ''})", engine, work)
    whose = f" {agency or recipient}" if agency or recipient else ""
    record("key.create", f"key {prefix} ({role}{whose})", engine=engine)
    _print_secret(secret, prefix, f"Issued {role} key")


@keys_app.command("list")
def keys_list(
    active: Annotated[bool, typer.Option("--active", help="Only keys not revoked")] = False,
) -> None:
    """List keys by their visible prefix: role, scope, label, created, last used, revoked."""
    from mappings import keys
    from onereturn import db

    with db.session_scope(ready_engine()) as session:
        rows = [
            (
                k.prefix,
                k.kind,
                (k.agency_code or k.recipient or "all") + (" (approver)" if keys.APPROVER_SCOPE in k.scopes else ""),
                k.label,
                k.created_at,
                k.last_used_at,
                k.revoked_at,
            )
            for k in keys.list_keys(session, include_revoked=not active)
        ]
    table = Table("prefix", "role", "scope", "label", "created", "last used", "revoked")
    for prefix, role, scope, label, created, used, revoked in rows:
        table.add_row(prefix, role, scope, label, _when(created), _when(used), _when(revoked))
    out.print(table)
    err.print(f"{len(rows)} keys ({sum(1 for r in rows if r[6] is None)} active)")


@keys_app.command("revoke")
def keys_revoke(prefix: Annotated[str, typer.Argument(help="The key's prefix, as `keys list` shows it")]) -> None:
    """Revoke a key; it stops working at once."""
    from mappings import keys

    engine = ready_engine()
    shown = _audited("key.revoke", f"key {prefix}", engine, lambda s: keys.revoke_key(s, prefix).prefix)
    record("key.revoke", f"key {shown}", engine=engine)
    err.print(f"Revoked key {shown}.")


@keys_app.command("rotate")
def keys_rotate(prefix: Annotated[str, typer.Argument(help="The key's prefix, as `keys list` shows it")]) -> None:
    """Issue a new key like the old one, revoke the old one, and print the new key once."""
    from mappings import keys

    engine = ready_engine()

    def work(session: Any) -> tuple[str, str, str]:
        old, new, secret = keys.rotate_key(session, prefix, created_by=operator())
        return old.prefix, new.prefix, secret

    old_prefix, new_prefix, secret = _audited("key.rotate", f"key {prefix}", engine, work)
    record("key.rotate", f"key {old_prefix} -> {new_prefix}", engine=engine)
    _print_secret(secret, new_prefix, f"Revoked {old_prefix}; issued")


def audit_command(
    principal: Annotated[str | None, typer.Option("--principal", "-p", help="Text in the principal's name")] = None,
    key: Annotated[str | None, typer.Option("--key", "-k", help="A key's visible prefix (or its start)")] = None,
    action: Annotated[str | None, typer.Option("--action", "-a", help="An action (key.revoke) or family (key)")] = None,
    since: Annotated[str | None, typer.Option("--since", help="From this time, ISO 8601")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Before this time, ISO 8601")] = None,
    outcome: Annotated[str | None, typer.Option("--outcome", help="ok, refused, rejected, not_found or error")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=100_000, help="How many, newest first")] = 50,
) -> None:
    """Print the audit trail: who uploaded, pulled or changed what, when, from where, and how it ended."""
    from onereturn import audittrail, db

    if outcome is not None and outcome not in audittrail.OUTCOMES:
        raise InvalidInput(f"Unknown outcome {outcome!r}; expected one of {', '.join(audittrail.OUTCOMES)}")
    try:
        bounds = [datetime.fromisoformat(v) if v else None for v in (since, until)]
    except ValueError as exc:
        raise InvalidInput(f"Not a time: {exc}; write e.g. 2026-11-23 or 2026-11-23T09:30") from None
    where = audittrail.AuditFilter(principal, key, action, bounds[0], bounds[1], outcome)
    with db.session_scope(ready_engine()) as session:
        rows, total = audittrail.events(session, where, limit=limit)
        lines = [
            (_when(e.at), e.principal, e.key_prefix or "", e.action, e.object, e.client, e.outcome, e.detail)
            for e in rows
        ]
    table = Table("when (UTC)", "principal", "key", "action", "object", "client", "outcome", "detail")
    for line in lines:
        table.add_row(*line)
    out.print(table)
    err.print(f"{len(lines)} of {total} events")


signoffs_app = typer.Typer(
    help="Sign-offs: nothing reaches a regulator until the body that owns it has signed it off.", no_args_is_help=True
)


@signoffs_app.command("sign-all")
def signoffs_sign_all(
    as_name: Annotated[
        str, typer.Option("--as", help="Who vouches for the figures, for the record, e.g. 'J. Smith, performance lead'")
    ],
    return_id: Annotated[list[str] | None, typer.Option("--return", help="Only this return (repeatable)")] = None,
) -> None:
    """Sign off every agency's figures in every return and period not yet released, as a named person.

    For an operator moving figures collected elsewhere into the service, or the demo: the
    declaration is each return's own, and uploads' errors and queries are not checked.
    """
    from exports.signoff.acts import sign_off_all
    from mappings.signoff.states import Actor

    if not as_name.strip():
        raise InvalidInput("Say who vouches for the figures (--as)")
    engine = ready_engine()
    actor = Actor(f"{as_name.strip()} ({operator()})", client="local")
    done = _audited(
        "signoff.sign_all",
        "every open sign-off",
        engine,
        lambda s: [(x.agency_code, x.return_id, x.period) for x in sign_off_all(s, actor, return_ids=return_id)],
    )
    record("signoff.sign_all", f"{len(done)} sign-offs", detail=f"as {as_name.strip()}", engine=engine)
    for agency, ret, period in done:
        out.print(f"{agency}\t{ret}\t{period}", markup=False, highlight=False)
    err.print(f"Signed off {len(done)} agency returns as {as_name.strip()}.")


@signoffs_app.command("list")
def signoffs_list(
    return_id: Annotated[str | None, typer.Option("--return", help="Only this return")] = None,
    period: Annotated[str | None, typer.Option("--period", help="Only this period, e.g. FY2024-25")] = None,
    state: Annotated[
        str | None, typer.Option("--state", help="open, signed_off, accepted, reopened or returned")
    ] = None,
) -> None:
    """List the sign-offs: agency, return, period, state, who signed and when."""
    from mappings.signoff.states import list_signoffs
    from onereturn import db

    with db.session_scope(ready_engine()) as session:
        rows = [
            (s.agency_code, s.return_id, s.period, s.state, s.signed_by, s.signed_at, s.digest[:12])
            for s in list_signoffs(session, return_id=return_id, period=period, state=state)
        ]
    table = Table("agency", "return", "period", "state", "signed by", "signed", "digest")
    for agency, ret, per, st, who, when, digest in rows:
        table.add_row(agency, ret, per, st, who, _when(when), digest)
    out.print(table)
    err.print(f"{len(rows)} sign-offs")


@agencies_app.command("remove-demo")
def agencies_remove_demo() -> None:
    """Remove the demo's keys and the bundled agencies nothing stands behind, from the store every host shares."""
    from mappings.agencies import remove_demo
    from onereturn import db

    with db.session_scope(ready_engine()) as session:
        live = remove_demo(session)
    err.print(f"Removed the demo: {live} demo key(s) that still worked no longer do.")
