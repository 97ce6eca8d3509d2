"""``exactsync mappings``: the push mappings of a division — show them, and suggest the missing rows
from what Exact has booked for matched documents (``suggest --save`` saves them, validated).

The dashboard's Mappings page edits the same tables; docs/push.md ("Mappings") says what each holds.
"""

from __future__ import annotations

import click
import polars as pl

from exactsync.cli.main import Ctx, check_divisions, cli, emit, pass_ctx
from exactsync.errors import EXIT_FAILURE, EXIT_USAGE, ExactsyncError
from exactsync.settings import SettingsError

__all__ = ["mappings", "mappings_show", "mappings_suggest", "mappings_set"]

_DIVISION_HELP = "Exact division (default: the only one in exact.divisions)."


def _division(ctx: Ctx, division: int | None) -> int:
    if division is not None:
        check_divisions(ctx, [division])  # configured or pulled, as reconcile --division
        return division
    divisions = list(ctx.settings.exact.divisions)
    if len(divisions) == 1:
        return int(divisions[0])
    if divisions:  # several: the command line must say which (a usage error); none: the settings
        raise ExactsyncError(f"which division? pass --division N (exact.divisions: {', '.join(map(str, divisions))})",
                             exit_code=EXIT_USAGE)
    raise SettingsError("which division? pass --division N (exact.divisions is empty)")


#: key columns where '' means any (exactsync.mapping)
_ANY_COLUMNS = ("country", "treatment", "tax_class")


def _cell(column: str, value) -> str:
    """A mapping's cell as people read it: '' of a key column "(any)", a treatment in words, a rate
    as ``9.00`` (not ``9.0000``), a yes/no setting as yes / no."""
    from decimal import Decimal

    from exactsync.labels import treatment_label, yes_no

    if value == "" and column in _ANY_COLUMNS:
        return "(any)"
    if value is None:
        return ""
    if isinstance(value, bool):
        return yes_no(value)
    if column == "treatment":
        return treatment_label(value) or ""
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    return str(value)


def _table(frame: pl.DataFrame, columns: list[str]) -> list[str]:
    """``frame`` as aligned text lines under headings in words (exactsync.labels); '' shows as
    "(any)", the way a mapping reads it. ``--json`` keeps the identifiers and raw values."""
    from exactsync.labels import text_table

    return text_table(columns, ([_cell(c, v) for c, v in zip(columns, row)] for row in frame.select(columns).iter_rows()),
                      right=[c for c in columns if c == "rate"])


@cli.group()
def mappings() -> None:
    """Push mappings (VAT codes, G/L accounts, debtors, journal) per Exact division."""


@mappings.command("show")
@click.argument("kinds", nargs=-1, type=click.Choice(["vat", "gl", "cost_center", "debtor", "settings"]))
@click.option("--division", type=int, help=_DIVISION_HELP)
@pass_ctx
def mappings_show(ctx: Ctx, kinds: tuple[str, ...], division: int | None) -> None:
    """Show the mappings (all kinds, or the KINDS named), each row checked against Exact's codes."""
    from exactsync.mapping import MAPPING_KINDS, read_mapping

    division = _division(ctx, division)
    frames = {kind: read_mapping(ctx.store, kind, division) for kind in (kinds or MAPPING_KINDS)}

    def human() -> str:
        lines = []
        for kind, frame in frames.items():
            lines.append(f"{kind} (division {division}): " + (f"{frame.height} row(s)" if frame.height else "none"))
            if frame.height:
                lines += _table(frame, [c for c in frame.columns if c != "division"])
        return "\n".join(lines)

    emit(ctx, {kind: frame.to_dicts() for kind, frame in frames.items()}, human)
    if any(frame["error"].is_not_null().any() for frame in frames.values()):
        click.get_current_context().exit(EXIT_FAILURE)


@mappings.command("suggest")
@click.argument("kinds", nargs=-1, type=click.Choice(["vat", "gl", "debtor"]))
@click.option("--division", type=int, help=_DIVISION_HELP)
@click.option("--save", is_flag=True, help="Add the suggested rows to the stored mappings (each row validated; "
                                           "nothing is saved for a kind with an invalid row).")
@pass_ctx
def mappings_suggest(ctx: Ctx, kinds: tuple[str, ...], division: int | None, save: bool) -> None:
    """Suggest the rows the mappings lack, from what Exact has booked for matched documents.

    Reads the newest reconciliation run of each period: for every VAT bucket, line and country
    no stored row covers, the code its matched documents were booked with most, and how many.
    Stored rows are never changed. Without --save nothing is written.
    """
    from exactsync.mapping import save_mapping
    from exactsync.mapping_suggest import SUGGESTED_KINDS, suggest_mapping, with_suggestions

    division = _division(ctx, division)
    found = {kind: suggest_mapping(ctx.store, kind, division) for kind in (kinds or SUGGESTED_KINDS)}
    saved: dict[str, list[str]] = {}
    if save:
        for kind, s in found.items():
            if s.frame.height:
                result = save_mapping(ctx.store, kind, with_suggestions(ctx.store, s).drop("error"), division)
                saved[kind] = result.errors

    def human() -> str:
        lines = []
        for kind, s in found.items():
            lines.append(f"{kind} (division {division}): {s.message}")
            if s.frame.height:
                lines += _table(s.frame, [c for c in s.frame.columns if c != "division"])
            if kind in saved:
                lines.append(f"  saved {s.frame.height} row(s)" if not saved[kind] else
                             "  not saved, fix these first (on the Mappings page or by hand): " + "; ".join(saved[kind]))
        if not save and any(s.frame.height for s in found.values()):
            lines.append("Nothing saved: check the rows, then add --save (or edit them on the Mappings page).")
        return "\n".join(lines)

    emit(ctx, {kind: {"documents": s.documents, "rows": s.frame.to_dicts(), "saved": (not saved[kind]) if kind in saved else False,
                      "errors": saved.get(kind, [])} for kind, s in found.items()}, human)
    if any(saved.values()):
        click.get_current_context().exit(EXIT_FAILURE)


@mappings.command("set")
@click.option("--division", type=int, help=_DIVISION_HELP)
@click.option("--journal", "journal_code", help="Sales journal code pushed entries are booked in.")
@click.option("--debtor-strategy", type=click.Choice(["collective", "lookup"]),
              help="collective: one debtor per country (the debtor mapping); lookup: the customer's own debtor, "
                   "found by VAT number or e-mail.")
@click.option("--create-debtors/--no-create-debtors", default=None,
              help="With lookup: create a debtor in Exact for a customer it does not know (else the collective one).")
@pass_ctx
def mappings_set(ctx: Ctx, division: int | None, journal_code: str | None, debtor_strategy: str | None,
                 create_debtors: bool | None) -> None:
    """Set the push settings of a division (the options given; the others stay), checked against Exact."""
    from exactsync.mapping import read_mapping, save_mapping

    division = _division(ctx, division)
    if journal_code is None and debtor_strategy is None and create_debtors is None:
        raise ExactsyncError("nothing to set: give --journal, --debtor-strategy or --create-debtors / "
                             "--no-create-debtors", exit_code=EXIT_USAGE)
    stored = read_mapping(ctx.store, "settings", division)
    row = stored.drop("error").to_dicts()[0] if stored.height else {
        "division": division, "journal_code": str(ctx.settings.exact.sales_journal), "debtor_strategy": "collective",
        "create_debtors": False}
    row.update({k: v for k, v in (("journal_code", journal_code), ("debtor_strategy", debtor_strategy),
                                  ("create_debtors", create_debtors)) if v is not None})
    frame = pl.DataFrame([row], schema={"division": pl.Int64, "journal_code": pl.String, "debtor_strategy": pl.String,
                                        "create_debtors": pl.Boolean})
    result = save_mapping(ctx.store, "settings", frame, division)

    def human() -> str:
        what = (f"journal {row['journal_code']}, debtor strategy {row['debtor_strategy']}, "
                f"{'creates' if row['create_debtors'] else 'does not create'} debtors")
        if result.saved:
            return f"settings (division {division}) saved: {what}"
        return f"settings (division {division}) not saved ({what}): " + "; ".join(result.errors)

    emit(ctx, {"division": division, "saved": result.saved, "settings": row, "errors": result.errors}, human)
    if not result.saved:
        click.get_current_context().exit(EXIT_FAILURE)
