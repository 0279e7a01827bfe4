"""Parse a data folder, check it as a whole, then write it in one transaction.

Every problem is collected (file, row, column, reason) before anything is
written; if there is at least one, :class:`ImportRejected` lists them all and
the database is left untouched.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from gesprokit import schema, written_seals
from gesprokit.audit import append_events, writing
from gesprokit.bulk_insert import insert_dicts, insert_rows
from gesprokit.circuit import STEP_ACTIONS, STEPS, status_after_steps
from gesprokit.delays import (
    DEADLINE_DAYS,
    deadline_days,
    late_interruption_problem,
    longer_deadline_problem,
)
from gesprokit.errors import ImportRejected, Problem
from gesprokit.importer.end_of_contract import check_end_of_contract, end_events, signed_figures
from gesprokit.importer.fields import Field, fraction_bp
from gesprokit.importer.progress import (
    check_progress,
    insert_progress,
    progress_frame,
    sealed_keys,
)
from gesprokit.importer.reading import (
    Columns,
    UnreadableFile,
    columns_of_rows,
    find_table,
    read_columns,
    read_rows,
)
from gesprokit.importer.tables import REQUIRED_FILES, TABLES
from gesprokit.memory import give_back_freed_memory
from gesprokit.money import format_eur
from gesprokit.packing import pack_in_order
from gesprokit.seals import keys_of_rows

Row = dict  # parsed values plus "_line" and "_file"

STEP_ROLES = {step: (t.role, t.action) for step, t in STEP_ACTIONS.items()}


@dataclass
class ParsedFolder:
    """The typed rows of every table of a folder (a frame for the tables of COLUMN_TABLES),
    and the problems found."""

    tables: dict[str, list[Row] | pd.DataFrame] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    rejected: dict[str, list[Row]] = field(default_factory=lambda: defaultdict(list))

    def known(self, name: str, valid: dict, key: str) -> set:
        """Keys of valid rows plus those of rows refused for another column, so that one
        bad cell is reported once and not again in every table that refers to its row."""
        return set(valid) | {r[key] for r in self.rejected[name] if r.get(key) is not None}

    def problem(self, row: Row | None, column: str | None, reason: str, file: str = "") -> None:
        self.problems.append(Problem(row["_file"] if row else file,
                                     row["_line"] if row else None, column, reason))


MAX_STORED_INT = 10**15  # any integer the schema stores stays far inside 64 bits
COLUMN_TABLES = ("progress",)  # kept as a frame, checked column by column: a million rows


_UNSET = object()  # a cell that could not be parsed: its row has no value for it


def _objects(values: list) -> np.ndarray:
    """A list as a 1-d object array (values that are lists stay single items)."""
    out = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):
        out[i] = value
    return out


def _parse_distinct(fl: Field, cells: list[str], used: np.ndarray) -> tuple[list, list]:
    """Each distinct cell of a column parsed once: its value (_UNSET when refused) and its
    French problem (None when accepted), as the cell-by-cell reading gives them."""
    values: list = []
    problems: list = []
    for cell, wanted in zip(cells, used, strict=True):
        value, problem = _UNSET, None
        if not wanted:
            pass
        elif cell == "":
            value = fl.default
            problem = "valeur obligatoire manquante" if fl.required else None
        else:
            try:
                value = fl.parse(cell)
            except ValueError as exc:
                problem = str(exc)
            else:
                if isinstance(value, int) and not isinstance(value, bool) and \
                        abs(value) > MAX_STORED_INT:
                    problem = f"nombre hors limites « {cell} »"
        values.append(value)
        problems.append(problem)
    return values, problems


def _header_problems(pf: ParsedFolder, fields: list[Field], names: list[str], display: str,
                     extra: dict) -> bool:
    """The missing and unknown columns of a table with rows; True when one is missing."""
    known = {fl.column for fl in fields}
    missing = [fl.column for fl in fields
               if fl.required and fl.column not in names and fl.column not in extra]
    for col in missing:
        pf.problem(None, col, "colonne obligatoire absente", file=display)
    for col in names:
        if col and col not in known:
            pf.problem(None, col, "colonne inconnue", file=display)
    return bool(missing)


@dataclass
class ParsedColumns:
    """A table's cells parsed column by column: each row's line, the values per field key
    (object arrays, _UNSET where a cell was refused) and which rows were accepted."""

    lines: np.ndarray
    values: dict[str, np.ndarray]
    ok: np.ndarray


def _parse_columns(pf: ParsedFolder, fields: list[Field], cols: Columns, display: str,
                   extra: dict | None = None) -> ParsedColumns | None:
    """Parse every field's column, each distinct cell once; the problems are listed in the
    order of a row-by-row reading (row, then field). None when a required column is absent
    (nothing else is then said of the file)."""
    extra = extra or {}
    if len(cols) and _header_problems(pf, fields, cols.names, display, extra):
        return None
    values: dict[str, np.ndarray] = {}
    found: list[tuple[np.ndarray, int, np.ndarray]] = []
    for position, fl in enumerate(fields):
        if fl.column in extra:
            continue
        codes, cells = cols.column(fl.column)
        used = np.bincount(codes, minlength=len(cells)) > 0
        parsed, problems = _parse_distinct(fl, cells, used)
        values[fl.key] = _objects(parsed)[codes]
        bad_cell = np.array([p is not None for p in problems], dtype=bool)
        rows = np.flatnonzero(bad_cell[codes])
        found.append((rows, position, _objects(problems)[codes[rows]]))
    ok = np.ones(len(cols), dtype=bool)
    if found:
        rows = np.concatenate([r for r, _, _ in found])
        positions = np.concatenate([np.full(len(r), k) for r, k, _ in found])
        reasons = np.concatenate([m for _, _, m in found])
        ok[rows] = False
        for i in np.lexsort((positions, rows)):
            pf.problems.append(Problem(display, int(cols.lines[rows[i]]),
                                       fields[positions[i]].column, reasons[i]))
    return ParsedColumns(cols.lines, values, ok)


def _as_rows(parsed: ParsedColumns, display: str, extra: dict | None,
             which: np.ndarray) -> list[Row]:
    """The rows at `which` as dicts (``_line``, ``_file``, the extra values, then each
    field's value; a refused cell's key left out)."""
    keys = list(parsed.values)
    columns = [parsed.values[k][which].tolist() for k in keys]
    head = {"_file": display, **(extra or {})}
    rows = []
    for line, *cells in zip(parsed.lines[which].tolist(), *columns, strict=True):
        row: Row = {"_line": line, **head}
        for key, value in zip(keys, cells, strict=True):
            if value is not _UNSET:
                row[key] = value
        rows.append(row)
    return rows


def _table_rows(pf: ParsedFolder, name: str, fields: list[Field], cols: Columns,
                display: str, extra: dict | None = None) -> list[Row]:
    """The accepted rows of a table as dicts; the refused ones kept in ``pf.rejected``."""
    parsed = _parse_columns(pf, fields, cols, display, extra)
    if parsed is None:
        return []
    pf.rejected[name] += _as_rows(parsed, display, extra, np.flatnonzero(~parsed.ok))
    return _as_rows(parsed, display, extra, np.flatnonzero(parsed.ok))


def _parse_rows(pf: ParsedFolder, name: str, fields: list[Field], path: Path,
                raw_rows, display: str, extra: dict | None = None) -> list[Row]:
    """Rows already read (a workbook, an INSEE series), parsed as :func:`_table_rows`."""
    return _table_rows(pf, name, fields, columns_of_rows(list(raw_rows)), display, extra)


# an operation, its companies and contracts are the import; situations may come later
MUST_HAVE_ROWS = ("operation", "companies", "contracts")


def _read(pf: ParsedFolder, path: Path, display: str) -> list | None:
    """The file's raw rows; None (and the reason as a problem) when it cannot be read."""
    try:
        return read_rows(path)
    except UnreadableFile as exc:
        pf.problem(None, None, str(exc), file=display)
        return None


def _read_columns(pf: ParsedFolder, path: Path, display: str) -> Columns | None:
    """The file's columns; None (and the reason as a problem) when it cannot be read."""
    try:
        return read_columns(path)
    except UnreadableFile as exc:
        pf.problem(None, None, str(exc), file=display)
        return None


def parse_folder(folder: str | Path) -> ParsedFolder:
    """Read and type every table of `folder`; check the folder as a whole."""
    folder = Path(folder)
    pf = ParsedFolder()
    empty = Columns([], np.zeros(0, dtype=np.int64), {})
    if not folder.is_dir():
        pf.problem(None, None, "dossier introuvable", file=str(folder))
        return pf
    for name, fields in TABLES.items():
        path = find_table(folder, name)
        rows: list[Row] | pd.DataFrame = []
        if path is not None:
            cols = _read_columns(pf, path, path.name)
            if name in COLUMN_TABLES:
                parsed = _parse_columns(pf, fields, cols or empty, path.name)
                rows = progress_frame(parsed, fields, path.name)
            else:
                rows = _table_rows(pf, name, fields, cols or empty, path.name)
            if cols is not None and not len(cols) and name in MUST_HAVE_ROWS:
                pf.problem(None, None, "fichier sans aucune ligne de données", file=path.name)
        elif name == "price_lines" and (folder / "dpgf").is_dir():
            for xlsx in sorted((folder / "dpgf").glob("*.xlsx")):
                display = f"dpgf/{xlsx.name}"
                rows += _table_rows(pf, name, fields, _read_columns(pf, xlsx, display) or empty,
                                    display, extra={"contract_id": xlsx.stem})
        elif name in REQUIRED_FILES or name == "price_lines":
            pf.problem(None, None, "fichier obligatoire absent", file=f"{name}.csv")
        if name in COLUMN_TABLES and isinstance(rows, list):
            rows = progress_frame(None, fields, f"{name}.csv")
        pf.tables[name] = rows
    _check(pf)
    return pf


def _unique(pf: ParsedFolder, name: str, key: tuple[str, ...], label: str) -> dict:
    seen: dict = {}
    for row in pf.tables[name]:
        k = tuple(row[c] for c in key) if len(key) > 1 else row[key[0]]
        if k in seen:
            pf.problem(row, key[-1], f"{label} en double (déjà ligne {seen[k]['_line']})")
        else:
            seen[k] = row
    return seen


def _revision_terms(pf: ParsedFolder, contract: Row) -> list[dict]:
    """``BT01`` or ``BT06=0,5; BT01=0,375`` -> terms; weights + fixed part must be 1."""
    spec = contract.get("revision_indices")
    if contract["price_form"] == "firm":
        if spec:
            pf.problem(contract, "revision_indices", "index de révision sur un marché à prix ferme")
        return []
    if not spec or not contract.get("revision_base_month"):
        pf.problem(contract, "revision_indices",
                   "marché révisable : index et mois de base (revision_base_month) obligatoires")
        return []
    fixed = contract["revision_fixed_bp"]
    terms = []
    parts = [p.strip() for p in spec.split(";") if p.strip()]
    for part in parts:
        code, _, weight = part.partition("=")
        code = code.strip().upper()
        try:
            weight_bp = fraction_bp(weight.strip()) if weight else 10_000 - fixed
        except ValueError as exc:
            pf.problem(contract, "revision_indices", str(exc))
            return []
        terms.append({"contract_id": contract["contract_id"], "index_code": code,
                      "weight_bp": weight_bp})
    if fixed + sum(t["weight_bp"] for t in terms) != 10_000:
        pf.problem(contract, "revision_indices",
                   "la partie fixe et les poids des index doivent totaliser 1")
        return []
    return terms


def _check(pf: ParsedFolder) -> None:  # noqa: C901 - one pass of cross-table rules
    t = pf.tables
    ops = t["operation"]
    if len(ops) > 1:
        for row in ops[1:]:
            pf.problem(row, None, "une seule opération par dossier")
    for row in ops:
        longer = longer_deadline_problem(row.get("buyer_kind"), row.get("deadline_days_override"))
        if longer:
            pf.problem(row, "deadline_days", longer)
    companies = pf.known("companies",
                         _unique(pf, "companies", ("code",), "code entreprise"), "code")
    _unique(pf, "companies", ("siret",), "SIRET")
    contracts = _unique(pf, "contracts", ("contract_id",), "marché")
    contract_ids = pf.known("contracts", contracts, "contract_id")
    lot_names: dict = {}
    terms_by_contract: dict[str, list[dict]] = {}
    for c in t["contracts"]:
        if c["company_code"] not in companies:
            pf.problem(c, "company_code", f"entreprise « {c['company_code']} » inconnue")
        prev = lot_names.setdefault(c["lot_code"], c["lot_name"])
        if prev != c["lot_name"]:
            pf.problem(c, "lot_name", f"lot {c['lot_code']} déjà nommé « {prev} »")
        if c["advance_end_bp"] <= c["advance_start_bp"]:
            pf.problem(c, "advance_end",
                       "la fin du remboursement de l'avance doit suivre son début")
        terms_by_contract[c["contract_id"]] = _revision_terms(pf, c)
    t["revision_terms"] = [term for terms in terms_by_contract.values() for term in terms]

    # a month may be published again (a corrected value): one row per publication date
    _unique(pf, "price_index", ("index_code", "month", "published_on"), "publication d'index")
    indices = {(row["index_code"], row["month"]) for row in t["price_index"]}
    for row in t["price_index"]:
        if row["published_on"].strftime("%Y-%m") <= row["month"]:
            pf.problem(row, "published_on", "publication antérieure à la fin du mois de l'index")
    for c in t["contracts"]:
        for term in terms_by_contract.get(c["contract_id"], []):
            if (term["index_code"], c["revision_base_month"]) not in indices:
                pf.problem(c, "revision_base_month",
                           f"index {term['index_code']} absent pour le mois de base "
                           f"{c['revision_base_month']}")
    _unique(pf, "ecb_rates", ("effective_on",), "taux BCE")

    amendments = _unique(pf, "amendments", ("contract_id", "amendment_no"), "avenant")
    for a in t["amendments"]:
        if a["contract_id"] not in contract_ids:
            pf.problem(a, "contract_id", f"marché « {a['contract_id']} » inconnu")
    subcontracts = _unique(pf, "subcontracts", ("subcontract_id",), "sous-traité")
    t["subcontract_revision_terms"] = []
    for s in t["subcontracts"]:
        if s["contract_id"] not in contract_ids:
            pf.problem(s, "contract_id", f"marché « {s['contract_id']} » inconnu")
        if s.get("revision_indices") or s.get("revision_base_month") or \
                s.get("revision_fixed_bp") is not None:
            # the subcontract's own formula, checked like a contract's
            terms = _revision_terms(pf, {**s, "price_form": "revisable",
                                         "revision_fixed_bp": s.get("revision_fixed_bp") or 0})
            for term in terms:
                if (term["index_code"], s["revision_base_month"]) not in indices:
                    pf.problem(s, "revision_base_month",
                               f"index {term['index_code']} absent pour le mois de base "
                               f"{s['revision_base_month']}")
            t["subcontract_revision_terms"] += [
                {**term, "subcontract_id": s["subcontract_id"]} for term in terms]
        if s["company_code"] not in companies:
            pf.problem(s, "company_code", f"entreprise « {s['company_code']} » inconnue")
    guarantees = _unique(pf, "guarantees", ("guarantee_id",), "garantie")
    for g in guarantees.values():
        if g["contract_id"] not in contract_ids:
            pf.problem(g, "contract_id", f"marché « {g['contract_id']} » inconnu")

    _unique(pf, "schedule", ("contract_id", "month"), "mois de planning")
    last_planned: dict = {}
    for row in sorted(t["schedule"], key=lambda r: (r["contract_id"], r["month"])):
        if row["contract_id"] not in contract_ids:
            pf.problem(row, "contract_id", f"marché « {row['contract_id']} » inconnu")
        elif row["pct_bp"] < last_planned.get(row["contract_id"], 0):
            pf.problem(row, "planned_pct", "avancement prévu en baisse")
        last_planned[row["contract_id"]] = row["pct_bp"]
    _check_billing(pf, contract_ids)
    lines = _check_price_lines(pf, contracts, amendments, subcontracts)
    situations = _check_situations(pf, contracts)
    _check_direct_payment_requests(pf, subcontracts, situations)
    check_progress(pf, lines, situations, amendments)
    check_end_of_contract(pf, contracts, situations, lines,
                          _unique(pf, "receptions", ("contract_id",), "réception"),
                          _unique(pf, "final_accounts", ("contract_id",),
                                  "projet de décompte final"))
    _unique(pf, "final_progress", ("contract_id", "line_no"), "avancement final")
    _check_rectifications(pf, situations)
    for adj in t["adjustments"]:
        if (adj["contract_id"], adj["n"]) not in situations:
            pf.problem(adj, "n", f"situation {adj['contract_id']} n°{adj['n']} inconnue")
        if (adj["days"] is None) == (adj["amount_cents"] is None):
            pf.problem(adj, "days", "indiquer soit un nombre de jours, soit un montant")
        elif adj["kind"] == "bonus" and adj["days"] is not None:
            pf.problem(adj, "days", "une prime se donne en montant, pas en jours")


def _check_rectifications(pf: ParsedFolder, situations: dict) -> None:
    """An MOA's rectification belongs to a situation it validated, once, and is not nil.
    (Its bound, the cumulative TTC, is the ledger's: checked with the figures below.)"""
    seen = set()
    for row in pf.tables["rectifications"]:
        key = (row["contract_id"], row["n"])
        situation = situations.get(key)
        if situation is None:
            pf.problem(row, "n", f"situation {key[0]} n°{key[1]} inconnue")
        elif situation.get("moa_at") is None:
            pf.problem(row, "n", "une rectification se fait à la validation du maître "
                                 "d'ouvrage : cette situation n'est pas validée")
        if key in seen:
            pf.problem(row, "n", "une seule rectification par situation")
        seen.add(key)
        if row["amount_cents"] == 0:
            pf.problem(row, "amount", "rectification nulle : retirez la ligne")


def _rectified_statements(statements: pd.DataFrame, rectifications: list[Row]
                          ) -> dict[tuple, dict]:
    """The statements of the situations a rectification names, by (contract, n): their
    cumulative TTC and net, what the bounds and the journal of a rectification read."""
    keys = {(r["contract_id"], r["n"]) for r in rectifications}
    if not keys or not len(statements):
        return {}
    named = statements[[k in keys for k in zip(statements["contract_id"], statements["n"],
                                                strict=True)]]
    return {(c, int(n)): {"total_ttc_cum": int(ttc), "net_month": int(net)}
            for c, n, ttc, net in zip(named["contract_id"], named["n"],
                                      named["total_ttc_cum"], named["net_month"], strict=True)}


def _check_rectified_bounds(pf: ParsedFolder, validated: dict) -> None:
    """A rectification never exceeds the état's cumulative TTC (as at the validation)."""
    for row in pf.tables["rectifications"]:
        statement = validated.get((row["contract_id"], row["n"]))
        if statement is not None and abs(row["amount_cents"]) > statement["total_ttc_cum"]:
            pf.problem(row, "amount", f"rectification de {format_eur(row['amount_cents'])} "
                                      "plus grande que le total TTC cumulé "
                                      f"({format_eur(statement['total_ttc_cum'])})")


def _check_direct_payment_requests(pf: ParsedFolder, subcontracts: dict,
                                   situations: dict) -> None:
    """A subcontractor's requests: a known subcontract in direct payment, a known situation
    of its contract, a decision dated after the deposit (a refusal with its reason), no
    payment of a refused request; each row gets its contract."""
    requests = _unique(pf, "direct_payment_requests", ("subcontract_id", "n"),
                       "demande de paiement direct")
    for r in requests.values():
        sub = subcontracts.get(r["subcontract_id"])
        if sub is None or not sub["direct_payment"]:
            pf.problem(r, "subcontract_id", f"sous-traité « {r['subcontract_id']} » inconnu ou "
                       "sans paiement direct")
            continue
        r["contract_id"], r["deposited_by"] = sub["contract_id"], "import"
        if (sub["contract_id"], r["n"]) not in situations:
            pf.problem(r, "n", f"situation {sub['contract_id']} n°{r['n']} inconnue")
        if (r["decision"] is None) != (r["decided_at"] is None):
            pf.problem(r, "decided_at", "une décision (acceptée/refusée) va avec sa date")
        elif r["decided_at"] is not None and r["decided_at"] < r["deposited_at"]:
            pf.problem(r, "decided_at", "décision antérieure au dépôt de la demande")
        if r["decision"] == "refused" and not r["reason"]:
            pf.problem(r, "reason", "un refus exige son motif")
        if r["paid_at"] is not None and r["decision"] == "refused":
            pf.problem(r, "paid_at", "une demande refusée ne se paie pas")


def _check_billing(pf: ParsedFolder, contract_ids: set) -> None:
    """Chorus Pro structures and each contract's billing identity."""
    structures = pf.known("chorus_structures",
                          _unique(pf, "chorus_structures", ("siret",), "structure Chorus"),
                          "siret")
    _unique(pf, "billing_identity", ("contract_id",), "fiche d'identité du marché")
    for row in pf.tables["billing_identity"]:
        if row["contract_id"] not in contract_ids:
            pf.problem(row, "contract_id", f"marché « {row['contract_id']} » inconnu")
        for column in ("moa_siret", "payer_siret"):
            if row[column] not in structures:
                pf.problem(row, column, f"structure {row[column]} absente de "
                                        "chorus_structures")
    pf.tables["chorus_services"] = [
        {"siret": s["siret"], "code": code, "active": True}
        for s in pf.tables["chorus_structures"] for code in s["services"]]


def _check_price_lines(pf, contracts, amendments, subcontracts) -> dict:
    lines = _unique(pf, "price_lines", ("contract_id", "line_no"), "ligne de prix")
    initial = defaultdict(int)
    by_amendment = defaultdict(int)
    known_ids = pf.known("contracts", contracts, "contract_id")
    for line in pf.tables["price_lines"]:
        cid = line["contract_id"]
        if cid not in contracts:
            if cid not in known_ids:
                pf.problem(line, "contract_id", f"marché « {cid} » inconnu")
            continue
        qty, unit_price, amount = line["quantity"], line["unit_price_cents"], line["amount_cents"]
        if qty is not None and unit_price is not None:
            computed = int((Decimal(qty) * unit_price).to_integral_value(rounding=ROUND_HALF_UP))
            if amount is None:
                line["amount_cents"] = amount = computed
            elif amount != computed:
                pf.problem(line, "amount", f"montant {amount / 100:.2f} ≠ quantité × prix "
                                           f"unitaire = {computed / 100:.2f}")
        if amount is None:
            pf.problem(line, "amount", "montant absent (ni montant, ni quantité × prix unitaire)")
            continue
        if line["amendment_no"] is not None:
            if (cid, line["amendment_no"]) not in amendments:
                pf.problem(line, "amendment_no", f"avenant n°{line['amendment_no']} inconnu")
            by_amendment[(cid, line["amendment_no"])] += amount
        else:
            initial[cid] += amount
        sub = line["subcontract_id"]
        if sub is not None:
            if sub not in subcontracts:
                pf.problem(line, "subcontract_id", f"sous-traité « {sub} » inconnu")
            elif subcontracts[sub]["contract_id"] != cid:
                pf.problem(line, "subcontract_id", f"sous-traité « {sub} » d'un autre marché")
    for cid, c in contracts.items():
        if initial[cid] != c["initial_total_ht"]:
            pf.problem(c, "initial_total_ht",
                       f"montant initial {c['initial_total_ht'] / 100:.2f} ≠ somme des lignes "
                       f"de la DPGF {initial[cid] / 100:.2f}")
    for key, a in amendments.items():
        if key in by_amendment and by_amendment[key] != a["amount_cents"]:
            pf.problem(a, "amount", f"montant de l'avenant ≠ somme de ses lignes "
                                    f"{by_amendment[key] / 100:.2f}")
    return lines


def _check_situations(pf, contracts) -> dict:
    situations = _unique(pf, "situations", ("contract_id", "n"), "situation")
    operation = pf.tables["operation"][0] if len(pf.tables["operation"]) == 1 else None
    days = None
    if operation and operation.get("buyer_kind") in DEADLINE_DAYS:
        days = deadline_days(operation["buyer_kind"], operation.get("deadline_days_override"))
    per_contract = defaultdict(list)
    known_ids = pf.known("contracts", contracts, "contract_id")
    for s in pf.tables["situations"]:
        if s["contract_id"] not in contracts:
            if s["contract_id"] not in known_ids:
                pf.problem(s, "contract_id", f"marché « {s['contract_id']} » inconnu")
            continue
        per_contract[s["contract_id"]].append(s)
        present = [step for step in STEPS if s[step] is not None]
        expected = list(STEPS[: len(present)])
        if present != expected:
            gap = next(step for step, exp in zip(present, expected, strict=True) if step != exp)
            pf.problem(s, gap, "étape datée alors qu'une étape précédente ne l'est pas")
        dates = [s[step] for step in present]
        for prev_step, step, a, b in zip(present, present[1:], dates, dates[1:], strict=False):
            if b < a:
                pf.problem(s, step, f"date antérieure à l'étape précédente ({prev_step})")
        if s["interrupted_at"] is not None:
            if s["submitted_at"] is None or s["interrupted_at"] < s["submitted_at"]:
                pf.problem(s, "interrupted_at", "interruption avant la réception de la demande")
            elif days is not None:
                late = late_interruption_problem(s["submitted_at"], s["interrupted_at"], days)
                if late:
                    pf.problem(s, "interrupted_at", late)
            if s["resumed_at"] is not None and s["resumed_at"] < s["interrupted_at"]:
                pf.problem(s, "resumed_at", "reprise antérieure à l'interruption")
            if not s["interruption_reason"]:
                pf.problem(s, "interruption_reason", "motif d'interruption obligatoire")
        elif s["resumed_at"] is not None:
            pf.problem(s, "resumed_at", "reprise sans interruption")
    for rows in per_contract.values():
        rows.sort(key=lambda r: r["n"])
        for i, s in enumerate(rows, start=1):
            if s["n"] != i:
                pf.problem(s, "n", f"numéro de situation {s['n']} : {i} attendu (suite 1, 2, 3…)")
                break
        for prev, s in zip(rows, rows[1:], strict=False):
            if s["month"] <= prev["month"]:
                pf.problem(s, "month", f"mois {s['month']} non postérieur à la situation "
                                       f"précédente ({prev['month']})")
            if s["submitted_at"] is not None and (
                    prev["moa_at"] is None or s["submitted_at"] < prev["moa_at"]):
                pf.problem(s, "submitted_at", "projet transmis avant la validation de la "
                                              f"situation n°{prev['n']} par le maître d'ouvrage")
    return situations


def _clean(rows: list[Row], columns) -> list[dict]:
    return [{c: r.get(c) for c in columns} for r in rows]


def _import_events(t: dict, now: datetime, validated: dict | None = None,
                   counts: dict[str, int] | None = None) -> list[dict]:
    """The journal of the imported history: each dated step, the end-of-contract acts, then
    the import itself (`counts`: the rows of each file, by default those of `t`). A
    validation the MOA rectified says so as a live one does (amount, reason, the MOE's net
    and the net validated: `validated` maps a situation to its statement)."""
    events = []
    rectified = {(r["contract_id"], r["n"]): r for r in t.get("rectifications", [])}
    for s in t["situations"]:
        for step, (role, action) in STEP_ROLES.items():
            if s.get(step) is not None:
                event = {"at": s[step], "actor": "import", "role": role, "action": action,
                         "contract_id": s["contract_id"], "n": s["n"],
                         "comment": s["interruption_reason"] if action == "interrupt"
                         else None}
                key = (s["contract_id"], s["n"])
                if action == "validate" and key in rectified and validated:
                    r, net = rectified[key], int(validated[key]["net_month"])
                    event["after"] = json.dumps({
                        "status": "validated", "net_month": net, "rectification": {
                            "amount_cents": r["amount_cents"], "reason": r["reason"],
                            "moe_net_month": net - r["amount_cents"]}},
                        ensure_ascii=False, sort_keys=True)
                events.append(event)
    events += end_events(t)
    events.sort(key=lambda e: (e["at"], e["contract_id"], e["n"] or 0))
    if counts is None:
        counts = {name: len(rows) for name, rows in t.items() if len(rows)}
    events.append({"at": now, "actor": "import", "role": "admin", "action": "import",
                   "after": json.dumps(counts, sort_keys=True)})
    return events


def _skip_known_reference_rows(conn, pf: ParsedFolder) -> None:
    """Index values, ECB rates and Chorus structures are shared by operations: keep new rows,
    refuse conflicts."""
    for name, table, key, value, column in (
        ("price_index", schema.PriceIndex, ("index_code", "month", "published_on"),
         "value_e4", "value"),
        ("ecb_rates", schema.EcbRate, ("effective_on",), "rate_bp", "rate"),
    ):
        cols = [getattr(table, k) for k in key]
        known = {tuple(r[:-1]): r[-1]
                 for r in conn.execute(select(*cols, getattr(table, value)))}
        fresh = []
        for row in pf.tables[name]:
            k = tuple(row[c] for c in key)
            if k not in known:
                fresh.append(row)
            elif known[k] != row[value]:
                pf.problem(row, column, "valeur différente de celle déjà enregistrée dans la base "
                                       "pour la même date (une correction est une nouvelle "
                                       "publication, à sa date)")
        if name == "price_index":
            latest: dict = {}
            for index_code, month, published_on in known:
                latest[(index_code, month)] = max(published_on,
                                                  latest.get((index_code, month), published_on))
            for row in fresh:
                last = latest.get((row["index_code"], row["month"]))
                if last is not None and row["published_on"] < last:
                    pf.problem(row, "published_on", "publication antérieure à celle du "
                                                    f"{last:%d/%m/%Y} déjà enregistrée : une "
                                                    "correction ne remonte pas le temps")
        pf.tables[name] = fresh
    _skip_known_companies(conn, pf)
    columns = [c for c in schema.ChorusStructure.__table__.columns]
    known_structures = {r.siret: tuple(r) for r in conn.execute(select(*columns))}
    fresh = []
    for row in pf.tables["chorus_structures"]:
        known = known_structures.get(row["siret"])
        if known is None:
            fresh.append(row)
        elif known != tuple(row[c.name] for c in columns):
            pf.problem(row, "siret", "structure déjà enregistrée avec d'autres paramètres")
    pf.tables["chorus_structures"] = fresh
    pf.tables["chorus_services"] = [s for s in pf.tables["chorus_services"]
                                    if s["siret"] not in known_structures]


def _skip_known_companies(conn, pf: ParsedFolder) -> None:
    """A company already known (the same contractor on another operation) is kept as it is
    when the folder describes it alike; a different description or a SIRET known under
    another code is refused."""
    columns = ("code", "name", "siret", "is_sme", "city")
    known = {r.code: tuple(r) for r in conn.execute(select(
        *(getattr(schema.Company, c) for c in columns)))}
    by_siret = {row[2]: code for code, row in known.items()}
    fresh = []
    for row in pf.tables["companies"]:
        same = known.get(row["code"])
        if same is None:
            other = by_siret.get(row["siret"])
            if other is not None:
                pf.problem(row, "siret", f"SIRET déjà enregistré pour l'entreprise « {other} »")
            else:
                fresh.append(row)
        elif same != tuple(row.get(c) for c in columns):
            pf.problem(row, "code", "entreprise déjà enregistrée avec d'autres données (nom, "
                                    "SIRET, PME ou ville) : reprendre celles de la base")
    pf.tables["companies"] = fresh


def _validated_statements(plan, all_indices: list[Row], conn) -> pd.DataFrame:
    """The état d'acompte figures of each MOA-validated situation, as the ledger gives them
    for the data imported (the source folder carries no figures of its own)."""
    from gesprokit.ledger import LINE_INPUT_COLUMNS, compute_ledger
    from gesprokit.store import typed_frame

    rows = {table: rows for table, rows in plan}
    rows[schema.PriceIndex] = all_indices

    def frame(table, only: list[str] | None = None) -> pd.DataFrame:
        columns = [c.name for c in table.__table__.columns if only is None or c.name in only]
        given = rows.get(table, [])
        if isinstance(given, pd.DataFrame):
            return typed_frame(given[columns].reset_index(drop=True), table.__table__, only)
        return typed_frame(pd.DataFrame(_clean(given, columns), columns=columns),
                           table.__table__)

    columns = ["contract_id", "n", "validated_at", *schema.STATEMENT_COLUMNS]
    situations = frame(schema.Situation)
    if situations.empty or situations["moa_at"].isna().all():
        return pd.DataFrame(columns=columns)
    # the progress as the ledger reads it (not the comments: a million texts to convert)
    per_contract = {"contracts": frame(schema.Contract), "price_lines": frame(schema.PriceLine),
                    "situations": situations,
                    "progress": frame(schema.Progress, LINE_INPUT_COLUMNS),
                    "adjustments": frame(schema.Adjustment),
                    "guarantees": frame(schema.Guarantee),
                    "subcontracts": frame(schema.Subcontract),
                    "amendments": frame(schema.Amendment),
                    "revision_terms": frame(schema.RevisionTerm),
                    "rectifications": frame(schema.Rectification)}
    price_index = frame(schema.PriceIndex)
    # contracts are independent: their ledger is computed a slice of contracts at a time, so
    # the working frames of a million progress rows are never all held at once
    progress = per_contract["progress"]
    slice_of = pack_in_order(per_contract["contracts"]["contract_id"],
                             progress["contract_id"].value_counts(), LEDGER_SLICE_ROWS)
    numbers = progress["contract_id"].map(slice_of).to_numpy()
    rows_of_slice = pd.Series(numbers).groupby(numbers).indices
    ids_of: dict[int, list[str]] = {}
    for cid, number in slice_of.items():
        ids_of.setdefault(number, []).append(cid)
    parts = []
    for number, ids in ids_of.items():
        part = {name: f[f["contract_id"].isin(ids)] for name, f in per_contract.items()
                if name != "progress"}
        part["progress"] = progress.iloc[rows_of_slice.get(number, [])]
        parts.append(compute_ledger(**part, price_index=price_index).situations)
    ledger_situations = pd.concat(parts, ignore_index=True)
    validated = situations.loc[situations["moa_at"].notna(), ["contract_id", "n", "moa_at"]]
    statements = ledger_situations.merge(validated, on=["contract_id", "n"])
    statements = statements.rename(columns={"moa_at": "validated_at"})
    # a frame, not a dict per statement: 40 000 dicts of 19 Python values held to the end
    return statements[columns]


LEDGER_SLICE_ROWS = 250_000  # progress rows of the contracts whose ledger is computed at once


def _plain_rows(frame: pd.DataFrame):
    """A frame's rows as tuples of plain Python values (times as datetime)."""
    columns = [frame[c].dt.to_pydatetime().tolist() if frame[c].dtype.kind == "M"
               else frame[c].tolist() for c in frame.columns]
    return zip(*columns, strict=True)


def _write(conn, table, rows: list[Row] | pd.DataFrame) -> None:
    """Insert the rows of one table (a frame in bulk); a refusal of the base, which the checks
    should have prevented, is said in French with the file the rows came from."""
    if not len(rows):
        return
    try:
        if table is schema.Progress:
            insert_progress(conn, rows)
        elif isinstance(rows, pd.DataFrame):
            insert_rows(conn, table.__table__, list(rows.columns), _plain_rows(rows))
        else:
            insert_dicts(conn, table.__table__, rows)
    except (IntegrityError, psycopg.IntegrityError):
        source = rows.attrs.get("file") if isinstance(rows, pd.DataFrame) else \
            rows[0].get("_file")
        raise ImportRejected([Problem(source or table.__tablename__, None, None,
                                      "une ligne enfreint une règle de la base "
                                      "(valeur nulle, négative ou en double) ; "
                                      "rien n'a été importé")]) from None


def import_folder(folder: str | Path, engine: Engine, now: datetime | None = None) -> dict:
    """Import `folder` into the database behind `engine`, all or nothing.

    Returns the number of rows written per table. Raises :class:`ImportRejected`
    listing every problem, with nothing written.
    """
    pf = parse_folder(folder)
    give_back_freed_memory()  # the reading's buffers: the ledger's peak must not stack on them
    t = pf.tables
    with writing(engine) as conn:
        if t.get("operation"):
            code = t["operation"][0]["code"]
            if conn.execute(select(schema.Operation.code).where(
                    schema.Operation.code == code)).first():
                pf.problem(t["operation"][0], "code", f"opération « {code} » déjà importée")
            existing = set(conn.execute(select(schema.Contract.contract_id)).scalars())
            for c in t["contracts"]:
                if c["contract_id"] in existing:
                    pf.problem(c, "contract_id", "marché déjà présent dans la base")
        all_indices = list(t["price_index"])
        _skip_known_reference_rows(conn, pf)
        if pf.problems:
            raise ImportRejected(pf.problems)
        op_code = t["operation"][0]["code"]
        for c in t["contracts"]:
            c["operation_code"] = op_code
        for s in t["situations"]:
            s["status"] = status_after_steps(s)
            s["version"] = 1
        lots = {(op_code, c["lot_code"]): {"operation_code": op_code, "code": c["lot_code"],
                                           "name": c["lot_name"]} for c in t["contracts"]}
        plan = [
            (schema.Operation, t["operation"]), (schema.Company, t["companies"]),
            (schema.Lot, list(lots.values())), (schema.Contract, t["contracts"]),
            (schema.RevisionTerm, t["revision_terms"]), (schema.Amendment, t["amendments"]),
            (schema.Subcontract, t["subcontracts"]),
            (schema.SubcontractRevisionTerm, t["subcontract_revision_terms"]),
            (schema.PriceLine, t["price_lines"]),
            (schema.Situation, t["situations"]), (schema.Progress, t["progress"]),
            (schema.DirectPaymentRequest, t["direct_payment_requests"]),
            (schema.Adjustment, t["adjustments"]), (schema.Guarantee, t["guarantees"]),
            (schema.Rectification, t["rectifications"]),
            (schema.PlannedProgress, t["schedule"]),
            (schema.Reception, t["receptions"]), (schema.FinalAccountRecord, t["final_accounts"]),
            (schema.FinalProgress, t["final_progress"]),
            (schema.PriceIndex, t["price_index"]), (schema.EcbRate, t["ecb_rates"]),
            (schema.ChorusStructure, t["chorus_structures"]),
            (schema.ChorusService, t["chorus_services"]),
            (schema.BillingIdentity, t["billing_identity"]),
        ]
        statements = _validated_statements(plan, all_indices, conn)
        give_back_freed_memory()
        validated = _rectified_statements(statements, t["rectifications"])
        _check_rectified_bounds(pf, validated)
        if pf.problems:
            raise ImportRejected(pf.problems)
        plan.append((schema.PaymentStatement, statements))
        written = {}
        for table, rows in plan:
            _write(conn, table, rows)
            written[table.__tablename__] = len(rows)
        signed_figures(conn, t["final_accounts"])
        sealed = set().union(*(sealed_keys(rows) if isinstance(rows, pd.DataFrame) else
                               keys_of_rows(table.__tablename__, rows) for table, rows in plan))
        rows_written = {table.__tablename__: rows for table, rows in plan}
        # the rows are written: the journal needs only its events and the seal of the rows,
        # not a million rows' memory (nor the buffers pyarrow kept from the ledger's text
        # columns); the events are made once the progress is sealed and let go
        journal_tables = {name: rows for name, rows in t.items()
                          if name not in COLUMN_TABLES}
        counts = {name: len(rows) for name, rows in t.items() if len(rows)}
        del plan
        pf.tables.clear()
        give_back_freed_memory()
        # the groups the import creates are sealed from the rows just written, not read back
        seal = written_seals.digests(conn, rows_written, sealed)
        del rows_written
        events = _import_events(journal_tables, now or datetime.now(), validated, counts)
        del journal_tables
        append_events(conn, events, sealed=sealed, seal=seal)
    return written
