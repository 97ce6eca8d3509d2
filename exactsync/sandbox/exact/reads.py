"""GET side of the Exact sandbox: single records, collections, paging and rendering (a mixin)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Iterator
from urllib.parse import quote

from exactsync.sandbox.base import SandboxRequest, SandboxResponse
from exactsync.sandbox.exact.odata import (
    ODataError,
    compile_filter,
    dumps,
    odata_error,
    parse_guid,
    parse_select,
    to_wire,
)
from exactsync.sandbox.exact.schema import ENTITIES, Entity
from exactsync.sandbox.exact.state import Division

__all__ = ["ReadsMixin"]

_JSON = {"content-type": "application/json; charset=utf-8"}


class ReadsMixin:
    """Needs ``self.settings``, ``self.divisions`` and ``self._now()`` from the app."""

    def _get(self, req: SandboxRequest, div: Division, entity: Entity, key: Any, nav: str | None) -> SandboxResponse:
        base = f"{req.base_url}/api/v1/{div.code}/{entity.route}"
        if key is not None:
            row = self._rows_by_key(div, entity, key)
            if row is None:
                return odata_error("Resource not found for the segment.", 404)
            if nav is None:
                fields, nested = parse_select(req.arg("$select"), entity.fields, entity.type_name, entity.navs)
                expand = self._expand(req, entity)
                rec = self._render(div, entity, row, fields, nested, expand, req.base_url)
                return SandboxResponse(200, dumps({"d": rec}), dict(_JSON))
            if entity.route == "salesentry/SalesEntries" and nav == "SalesEntryLines":
                line_entity = ENTITIES["salesentry/salesentrylines"]
                ids = div.lines_by_entry.get(key, [])
                rows = [div.entry_lines.rows[i] for i in ids]
                return self._collection(req, div, line_entity, rows_override=rows,
                                        next_base=f"{base}(guid'{key}')/SalesEntryLines")
            if entity.route == "vat/VATCodes" and nav == "VATPercentages":
                pct_entity = ENTITIES["vat/vatpercentages"]
                rows = list(row.get("_ranges", []))
                return self._collection(req, div, pct_entity, rows_override=rows,
                                        next_base=f"{base}(guid'{key}')/VATPercentages")
            return odata_error("Resource not found for the segment.", 404)
        if nav == "$count":
            return self._collection(req, div, entity, count_only=True)
        if nav is not None:
            return odata_error("Resource not found for the segment.", 404)
        return self._collection(req, div, entity)

    def _rows_by_key(self, div: Division, entity: Entity, key: Any) -> dict | None:
        if entity.table == "divisions":
            d = self.divisions.get(key)
            return self._division_row(d, div) if d else None
        return div.table(entity.table).get(key)

    def _division_row(self, d: Division, current: Division) -> dict:
        return {
            "Code": d.code, "Hid": d.hid, "Description": d.description, "Country": d.country, "Currency": d.currency,
            "Current": d.code == self.settings.current_division, "Status": d.status, "Legislation": d.legislation,
            "VATNumber": d.vat_number, "StartDate": d.start_date, "DivisionMoveDate": d.move_date,
            "Customer": None, "CustomerCode": None, "CustomerName": None, "Created": d.created, "Modified": d.created,
        }

    def _expand(self, req: SandboxRequest, entity: Entity) -> set[str]:
        raw = req.arg("$expand")
        if not raw:
            return set()
        out = set()
        for name in raw.split(","):
            name = name.strip()
            if name not in entity.navs:
                raise ODataError(f"No property '{name}' exists in type '{entity.type_name}'.")
            out.add(name)
        return out

    def _render(self, div: Division, entity: Entity, row: dict, fields: list[str] | None,
                nested: dict, expand: set[str], base_url: str) -> dict:
        uri = f"{base_url}/api/v1/{div.code}/{entity.route}"
        if entity.key:
            k = row[entity.key]
            uri += f"(guid'{k}')" if entity.fields[entity.key] == "Guid" else f"({k})"
        rec: dict[str, Any] = {"__metadata": {"uri": uri, "type": entity.type_name}}
        names = fields if fields is not None else list(entity.fields) + list(entity.navs)
        for f in names:
            if f in entity.navs:
                if f in expand:
                    rec[f] = {"results": self._nav_rows(div, entity, row, f, nested.get(f), base_url)}
                else:
                    rec[f] = {"__deferred": {"uri": f"{uri}/{f}"}}
            else:
                v = row.get(f)
                rec[f] = to_wire(v) if type(v) is dt.datetime else v
        return rec

    def _nav_rows(self, div: Division, entity: Entity, row: dict, nav: str, sub: list[str] | None,
                  base_url: str) -> list[dict]:
        if nav == "SalesEntryLines":
            child = ENTITIES["salesentry/salesentrylines"]
            rows = [div.entry_lines.rows[i] for i in div.lines_by_entry.get(row["EntryID"], [])]
        else:
            child = ENTITIES["vat/vatpercentages"]
            rows = list(row.get("_ranges", []))
        return [self._render(div, child, r, sub, {}, set(), base_url) for r in rows]

    def _collection(self, req: SandboxRequest, div: Division, entity: Entity, *, rows_override: list | None = None,
                    next_base: str | None = None, count_only: bool = False) -> SandboxResponse:
        opts = {k: v for k, v in req.query if k.startswith("$")}
        for bad in ("$skip", "$orderby"):
            if bad in opts:
                raise ODataError(f"The query parameter '{bad}' is not supported for this endpoint.")
        top = None
        if "$top" in opts:
            if not self.settings.allow_top:
                raise ODataError("The query parameter '$top' is not supported for this endpoint.")
            try:
                top = int(opts["$top"])
            except ValueError:
                raise ODataError("Invalid value for $top.") from None
        if entity.mode == "bulk" and "$select" not in opts:
            raise ODataError("Please add a $select or a $top=1 statement to the query string.")
        filt = compile_filter(opts["$filter"], entity.fields, entity.type_name) if opts.get("$filter") else None
        if entity.mode == "sync" and filt is not None and filt.fields - {"Timestamp"}:
            raise ODataError("Only the Timestamp property can be used in the $filter of a sync endpoint.")
        if entity.mandatory_filter and rows_override is None and (
            filt is None or not (filt.fields & set(entity.mandatory_filter))
        ):
            raise ODataError(
                "This endpoint has mandatory filtering applied. A GET request for this endpoint must have a $filter "
                "parameter with one of the following fields in the url: " + ",".join(entity.mandatory_filter) + "."
            )
        fields, nested = parse_select(opts.get("$select"), entity.fields, entity.type_name, entity.navs)
        expand = self._expand(req, entity)
        page_size = self.settings.page_size if entity.mode in ("standard", "read") else self.settings.bulk_page_size
        if top is not None:
            page_size = min(page_size, top)
        pred = filt.predicate if filt else None
        skiptoken = opts.get("$skiptoken")

        if count_only or opts.get("$inlinecount") == "allpages":
            total = sum(1 for r in self._matching(div, entity, filt, None, rows_override) if pred is None or pred(r))
            if count_only:
                return SandboxResponse(200, str(total).encode(), {"content-type": "text/plain; charset=utf-8"})
        page: list[dict] = []
        more = False
        for row in self._matching(div, entity, filt, skiptoken, rows_override):
            if pred is not None and not pred(row):
                continue
            if len(page) == page_size:
                more = True
                break
            page.append(row)
        if top is not None:
            more = False
        results = [self._render(div, entity, r, fields, nested, expand, req.base_url) for r in page]
        d: dict[str, Any] = {"results": results}
        if opts.get("$inlinecount") == "allpages":
            d["__count"] = str(total)
        if more:
            d["__next"] = self._next_url(req, next_base, entity, page[-1], skiptoken)
        return SandboxResponse(200, dumps({"d": d}), dict(_JSON))

    def _matching(self, div: Division, entity: Entity, filt: Any, skiptoken: str | None,
                  rows_override: list | None) -> Iterator[dict]:
        """Candidate rows in paging order, starting after ``skiptoken``; callers apply the filter."""
        if rows_override is not None:
            rows = sorted(rows_override, key=lambda r: r[entity.key]) if entity.key else list(rows_override)
            if skiptoken:
                after = _guid_token(skiptoken)
                rows = [r for r in rows if r[entity.key] > after]
            return iter(rows)
        if entity.table == "divisions":
            rows = [self._division_row(d, div) for code, d in sorted(self.divisions.items()) if d.granted]
            if skiptoken:
                rows = [r for r in rows if r["Code"] > int(skiptoken.rstrip("L"))]
            return iter(rows)
        if entity.mode == "read":
            start = int(skiptoken.rstrip("L")) if skiptoken else 0
            return iter(div.journal_status[start:])
        if entity.mode == "sync":
            table = div.table(entity.table)
            index = div.tl_index if entity.table == "tl" else div.deleted_index
            lower, inclusive = 0, False
            if filt and "Timestamp" in filt.lower_bounds:
                op, val = filt.lower_bounds["Timestamp"]
                lower, inclusive = int(val), op == "ge"
            if skiptoken:
                tok = int(skiptoken.rstrip("L"))
                if tok >= lower:
                    lower, inclusive = tok, False
            it = index.iter_after(table, lower, inclusive)
            if entity.table == "deleted":
                cutoff = self._now() - dt.timedelta(days=self.settings.deleted_retention_days)
                it = (r for r in it if r["DeletedDate"] >= cutoff)
            return it
        table = div.table(entity.table)
        after = _guid_token(skiptoken) if skiptoken else None
        # index shortcuts for the common "EntryID eq …" / key lookups
        if filt and entity.key in filt.eq_values:
            keys = sorted(k for k in filt.eq_values[entity.key] if isinstance(k, str))
            return (table.rows[k] for k in keys if k in table.rows and (after is None or k > after))
        if filt and "EntryID" in filt.eq_values and entity.table in ("tl", "entry_lines"):
            source = div.tl_by_entry if entity.table == "tl" else div.lines_by_entry
            keys = sorted(k for e in filt.eq_values["EntryID"] if isinstance(e, str) for k in source.get(e, []))
            return (table.rows[k] for k in keys if after is None or k > after)
        it = table.iter_after(after)
        return it

    def _next_url(self, req: SandboxRequest, next_base: str | None, entity: Entity, last: dict,
                  skiptoken: str | None) -> str:
        if entity.mode == "sync":
            token = f"{last['Timestamp']}L"
        elif entity.mode == "read":
            token = f"{(int(skiptoken.rstrip('L')) if skiptoken else 0) + self.settings.page_size}L"
        elif entity.table == "divisions":
            token = f"{last['Code']}"
        else:
            token = f"guid'{last[entity.key]}'"
        parts = [(k, v) for k, v in req.query if k != "$skiptoken"] + [("$skiptoken", token)]
        base = next_base or f"{req.base_url}{req.path}"
        return base + "?" + "&".join(f"{quote(k, safe='$')}={quote(v, safe=chr(36) + chr(39) + '(),:')}"
                                     for k, v in parts)


def _guid_token(token: str) -> str:
    m = re.fullmatch(r"guid'([^']*)'", token.strip())
    try:
        if not m:
            raise ValueError
        return parse_guid(m.group(1))
    except ValueError:
        raise ODataError(f"Invalid $skiptoken '{token}'.") from None


