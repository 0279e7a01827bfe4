"""The sample operation: a centre hospitalier builds an EHPAD unit and extends its SMR.

:func:`write_sample` writes the folder shipped in ``data/`` (import format,
docs/data-format.md); the shipped files are exactly its output, which a test
checks. Everything is deterministic (fixed seed). Company names and SIRET are
fictitious (valid Luhn keys); BT01 values are illustrative; ECB rates are the
published ones (see docs/data-format.md).
"""

from __future__ import annotations

import csv
import random
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from openpyxl import Workbook
from stdnum import luhn

SHIPPED_DIR = Path(__file__).resolve().parent.parent / "data"
FIRST_MONTH = (2025, 4)  # works start in April 2025, notification in March
OPERATION_CODE = "CHMV-EHPAD"


def make_siret(seed: int, public: bool = False) -> str:
    """A Luhn-valid SIRET built from a number (fictitious establishments)."""
    base = f"{(2 if public else 4)}{seed:07d}"[:8]
    siren = base + luhn.calc_check_digit(base)
    nic = f"{seed % 10000:04d}"
    return siren + nic + luhn.calc_check_digit(siren + nic)


def _month(offset: int) -> str:
    y, m = FIRST_MONTH
    total = y * 12 + m - 1 + offset
    return f"{total // 12:04d}-{total % 12 + 1:02d}"


def _month_end(month: str) -> date:
    y, m = int(month[:4]), int(month[5:])
    first_next = date(y + (m == 12), m % 12 + 1, 1)
    return first_next - timedelta(days=1)


# lot code, lot name, company code, start offset, duration (months), lines
# line: (label, unit, quantity, unit price €, start share, end share of the lot period)
LOTS = [
    ("01", "VRD – Terrassements – Espaces verts", "TPL", 0, 18, [
        ("Installation de chantier, clôtures, panneaux", "ft", "1", "18500.00", 0.0, 0.15),
        ("Décapage de terre végétale et mise en dépôt", "m2", "6200", "3.10", 0.0, 0.1),
        ("Terrassements en déblais (métré contradictoire)", "m3", "4800", "14.50", 0.0, 0.25),
        ("Réseaux EU/EP en PVC CR8 DN 200", "ml", "640", "96.00", 0.05, 0.4),
        ("Bassin de rétention enterré 180 m3", "ft", "1", "68400.00", 0.1, 0.35),
        ("Voirie lourde enrobés BBSG 0/10", "m2", "2350", "42.00", 0.75, 0.95),
        ("Cheminements piétons béton désactivé", "m2", "820", "68.00", 0.8, 1.0),
        ("Engazonnement et plantations du jardin thérapeutique", "ft", "1", "54350.00",
         0.85, 1.0),
    ]),
    ("02", "Gros œuvre – Maçonnerie", "BCC", 0, 11, [
        ("Pieux forés tarière creuse Ø 520", "ml", "1240", "150.00", 0.0, 0.2),
        ("Longrines et massifs béton armé", "m3", "310", "420.00", 0.05, 0.3),
        ("Dallage sur terre-plein ép. 20 cm", "m2", "2850", "96.00", 0.15, 0.4),
        ("Voiles béton banché ép. 20 cm", "m2", "5400", "118.00", 0.2, 0.8),
        ("Planchers dalles pleines ép. 23 cm", "m2", "5700", "112.00", 0.25, 0.85),
        ("Poteaux et poutres béton armé", "m3", "420", "690.00", 0.2, 0.85),
        ("Escaliers préfabriqués", "u", "6", "8600.00", 0.4, 0.9),
        ("Maçonnerie de blocs béton", "m2", "1650", "72.00", 0.5, 1.0),
        ("Réservations, trémies et calfeutrements", "ft", "1", "150540.00", 0.3, 1.0),
    ]),
    ("03", "Charpente – Couverture – Bardage", "CHA", 6, 4, [
        ("Charpente lamellé-collé du patio", "m3", "86", "1450.00", 0.0, 0.5),
        ("Couverture bac acier isolé", "m2", "1450", "88.00", 0.2, 0.8),
        ("Bardage bois douglas à claire-voie", "m2", "980", "112.00", 0.4, 1.0),
        ("Zinguerie, gouttières et descentes", "ft", "1", "29540.00", 0.5, 1.0),
    ]),
    ("04", "Étanchéité", "ETA", 8, 4, [
        ("Pare-vapeur et isolant PIR 160 mm", "m2", "2900", "38.50", 0.0, 0.6),
        ("Étanchéité bicouche élastomère", "m2", "2900", "34.00", 0.2, 0.8),
        ("Toiture végétalisée extensive", "m2", "860", "62.00", 0.5, 1.0),
        ("Relevés, costières et lanterneaux de désenfumage", "ft", "1", "19730.00", 0.5, 1.0),
    ]),
    ("05", "Menuiseries extérieures aluminium – Occultations", "MAL", 8, 6, [
        ("Fenêtres aluminium à rupture de pont thermique", "u", "168", "1480.00", 0.0, 0.7),
        ("Portes-fenêtres des chambres avec garde-corps", "u", "84", "2150.00", 0.1, 0.8),
        ("Châssis vitrés du hall et du patio", "m2", "210", "690.00", 0.3, 0.9),
        ("Brise-soleil orientables motorisés", "u", "252", "410.00", 0.5, 1.0),
    ]),
    ("06", "Plâtrerie – Cloisons – Faux plafonds", "PLA", 10, 7, [
        ("Doublages thermiques collés", "m2", "3900", "31.00", 0.0, 0.5),
        ("Cloisons 98/48 hydrofuges des sanitaires", "m2", "4300", "44.00", 0.05, 0.6),
        ("Cloisons acoustiques des chambres 120 mm", "m2", "3200", "58.00", 0.1, 0.7),
        ("Faux plafonds en dalles 600 × 600", "m2", "4100", "36.00", 0.4, 0.95),
        ("Plafonds plaques BA13 des circulations", "m2", "1450", "52.00", 0.5, 1.0),
        ("Trappes de visite et encoffrements", "ft", "1", "20900.00", 0.6, 1.0),
    ]),
    ("07", "Menuiseries intérieures – Agencement", "MIB", 12, 5, [
        ("Blocs-portes des chambres 93 cm", "u", "84", "1240.00", 0.0, 0.7),
        ("Portes coupe-feu EI30 des circulations", "u", "46", "1680.00", 0.1, 0.8),
        ("Placards et habillages bois", "ml", "260", "410.00", 0.3, 1.0),
        ("Mains courantes et protections murales", "ml", "1350", "58.00", 0.5, 1.0),
    ]),
    ("08", "Revêtements de sols – Faïence", "SOL", 13, 4, [
        ("Sols PVC U4P3 des chambres", "m2", "2650", "48.00", 0.0, 0.7),
        ("Sols PVC des circulations avec remontée en plinthe", "m2", "1450", "54.00", 0.1, 0.8),
        ("Carrelage grès cérame des locaux humides", "m2", "620", "72.00", 0.2, 0.9),
        ("Faïence murale des salles d'eau", "m2", "1180", "64.00", 0.4, 1.0),
    ]),
    ("09", "Chauffage – Ventilation – Climatisation", "CVA", 9, 9, [
        ("Sous-station et raccordement réseau de chaleur", "ft", "1", "96400.00", 0.0, 0.4),
        ("Réseaux de chauffage et émetteurs", "ft", "1", "218600.00", 0.1, 0.7),
        ("Centrales de traitement d'air double flux", "u", "3", "64500.00", 0.3, 0.8),
        ("Réseaux aérauliques et bouches", "ft", "1", "186300.00", 0.2, 0.9),
        ("Rafraîchissement des espaces communs", "ft", "1", "92800.00", 0.5, 0.95),
        ("Régulation, GTB et mise en service", "ft", "1", "61200.00", 0.7, 1.0),
    ]),
    ("10", "Plomberie – Sanitaires", "PLB", 9, 9, [
        ("Production ECS et bouclage anti-légionelle", "ft", "1", "84600.00", 0.0, 0.5),
        ("Réseaux EF/ECS cuivre et PER", "ft", "1", "142300.00", 0.1, 0.7),
        ("Appareils sanitaires PMR des chambres", "u", "84", "1860.00", 0.4, 0.95),
        ("Équipements des salles de bain thérapeutiques", "u", "3", "18900.00", 0.6, 1.0),
        ("Évacuations et chutes PVC", "ft", "1", "58200.00", 0.0, 0.6),
    ]),
    ("11", "Électricité – Courants forts et faibles", "ELC", 9, 9, [
        ("TGBT, tableaux divisionnaires et distribution", "ft", "1", "124800.00", 0.0, 0.5),
        ("Éclairage LED et blocs de secours", "ft", "1", "168400.00", 0.2, 0.9),
        ("Appel malade et contrôle d'accès", "ft", "1", "132600.00", 0.4, 0.95),
        ("SSI de catégorie A", "ft", "1", "86900.00", 0.3, 0.95),
        ("Précâblage VDI et Wi-Fi", "ft", "1", "71300.00", 0.5, 1.0),
    ]),
    ("12", "Ascenseurs", "ASC", 12, 5, [
        ("Ascenseur monte-lits 2 500 kg", "u", "1", "96800.00", 0.0, 0.9),
        ("Ascenseurs 1 000 kg", "u", "2", "52400.00", 0.1, 1.0),
    ]),
]

COMPANIES = [
    ("TPL", "TP Ligérien", False, "Montbrison-les-Vignes"),
    ("BCC", "Bâtir Centre Construction", False, "Orléans"),
    ("CHA", "Charpentes et Bardages du Forez", True, "Feurs"),
    ("ETA", "Étanchéité Rhône-Loire", True, "Saint-Étienne"),
    ("MAL", "Menuiseries Alu Lyonnaises", True, "Vénissieux"),
    ("PLA", "Plâtrerie Moderne Stéphanoise", True, "Saint-Chamond"),
    ("MIB", "Menuiserie Bois Industrie", True, "Roanne"),
    ("SOL", "Sols et Faïences du Centre", True, "Clermont-Ferrand"),
    ("CVA", "Climatisation Ventilation Auvergne", False, "Riom"),
    ("PLB", "Plomberie Sanitaire Montbrisonnaise", True, "Montbrison-les-Vignes"),
    ("ELC", "Électricité Courants Loire", False, "Roanne"),
    ("ASC", "Ascenseurs Rhône-Alpes", False, "Lyon"),
    ("FPV", "Forages et Pieux du Val", True, "Andrézieux"),
    ("ARC", "Atelier d'Architecture Forez Santé (mandataire de la maîtrise d'œuvre)", True,
     "Saint-Étienne"),
    ("OPC", "Ordonnancement Pilotage Coordination Loire", True, "Roanne"),
    ("AMO", "Conseil et Assistance Hospitalière", True, "Lyon"),
    ("CHMV", "Centre hospitalier de Montbrison-les-Vignes", False, "Montbrison-les-Vignes"),
    ("TRESO", "Trésorerie hospitalière de Montbrison", False, "Montbrison-les-Vignes"),
    ("SPL", "SPL Forez Équipements Publics", False, "Saint-Étienne"),
]

# Situations where an actor sits on the file: (lot, n) -> (step, extra days)
DELAYS = {("02", 5): ("moa_at", 24), ("10", 3): ("paid_at", 21), ("01", 12): ("amo_at", 18),
          ("06", 2): ("paid_at", 15), ("09", 6): ("verified_at", 9)}
INTERRUPTION = ("09", 2, 12, 9)  # lot, n, on day 12 after receipt, resumed 9 days later
STEP_GAPS = {"verified_at": (2, 5), "moe_at": (1, 4), "amo_at": (2, 6), "moa_at": (3, 9),
             "paid_at": (10, 22)}
# Where the circuit stands for the most recent situations: lot -> steps done on the last one
LAST_SITUATION_STEPS = {"01": 2, "11": 5, "10": 4}


def _dec(text: str) -> Decimal:
    return Decimal(text)


def _cents(euros: Decimal) -> int:
    return int((euros * 100).to_integral_value(rounding=ROUND_HALF_UP))


def _euros(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def _smooth(x: float) -> float:
    x = min(max(x, 0.0), 1.0)
    return x * x * (3 - 2 * x)


def _write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, delimiter=";", lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def _bt01_series() -> list[tuple[str, str, str]]:
    """Illustrative BT01 (base 2010) values, Jan 2024 – Sep 2026, published m+2 on the 15th."""
    rows = []
    value = Decimal("130.2")
    rng = random.Random(2010)
    for offset in range(-15, 18):
        month = _month(offset)
        value += Decimal(rng.choice(["-0.2", "0.0", "0.1", "0.2", "0.3", "0.4"]))
        y, m = int(month[:4]), int(month[5:])
        pub_y, pub_m = (y, m + 2) if m <= 10 else (y + 1, m - 10)
        rows.append(("BT01", month, f"{value:.1f}", f"{pub_y:04d}-{pub_m:02d}-15"))
    return rows


ECB_RATES = [  # ECB main refinancing operations rate, date of change
    ("2022-12-21", "2.50"), ("2023-02-08", "3.00"), ("2023-03-22", "3.50"),
    ("2023-05-10", "3.75"), ("2023-06-21", "4.00"), ("2023-08-02", "4.25"),
    ("2023-09-20", "4.50"), ("2024-06-19", "4.25"), ("2024-09-18", "3.65"),
    ("2024-10-23", "3.40"), ("2024-12-18", "3.15"), ("2025-02-05", "2.90"),
    ("2025-03-12", "2.65"), ("2025-04-23", "2.40"), ("2025-06-11", "2.15"),
]


def _at(day: date, hour: int, minute: int) -> datetime:
    return datetime.combine(day, time(hour, minute))


def _write_end_of_contracts(folder: Path) -> None:
    """Five lots received, each at another point of its end: the gros œuvre's décompte
    général deemed accepted and its solde paid late; the charpente's DGD signed, its solde
    paid and its retention refunded at the end of its (six-month) délai de garantie; the
    étanchéité received with réserves (their cost kept on the retention) and its décompte
    général signed with réserves; the menuiseries intérieures' DGD by the tacit procedure
    (the MOA let 30 days pass, then 10 more); the ascenseurs received and still without
    their projet de décompte final. The menuiseries extérieures (L05) stay open: their
    month of October is the one the circuit's examples run through."""
    c = f"{OPERATION_CODE}-L"
    _write_csv(folder / "receptions.csv",
               ["contract_id", "received_on", "reserves", "reserves_cost", "reserves_lifted_on",
                "guarantee_until"],
               [[f"{c}02", "2026-03-31", "", "", "", ""],
                [f"{c}03", "2026-02-27", "", "", "", ""],
                [f"{c}04", "2026-04-24", "Relevés d'étanchéité de la terrasse R+2 à reprendre "
                 "(angle nord-est)", "3500.00", "", ""],
                [f"{c}07", "2026-09-15", "", "", "", ""],
                [f"{c}12", "2026-10-15", "", "", "", ""]])
    _write_csv(folder / "final_accounts.csv",
               ["contract_id", "month", "claimed_at", "settled_at", "signed_at", "answered_at",
                "answer", "claim_text", "disputed", "tacit_at", "solde_paid_at",
                "retention_released_at", "kept_released_at"],
               [[f"{c}02", "2026-03", "2026-04-24 11:00:00", "2026-05-12 15:30:00",
                 "2026-05-26 10:00:00", "", "", "", "", "", "2026-09-02 10:00:00", "", ""],
                [f"{c}03", "2026-02", "2026-03-20 10:00:00", "2026-04-02 16:00:00",
                 "2026-04-20 11:00:00", "2026-05-04 09:30:00", "sans réserves", "", "", "",
                 "2026-05-29 10:00:00", "2026-09-22 10:00:00", ""],
                [f"{c}04", "2026-04", "2026-05-18 14:00:00", "2026-06-01 17:00:00",
                 "2026-06-22 10:00:00", "2026-07-10 16:45:00", "avec réserves",
                 "Mémoire en réclamation : reprise des acrotères ordonnée par l'OS n°12, non "
                 "reprise au décompte", "6840.00", "", "2026-08-20 10:00:00", "", ""],
                [f"{c}07", "2026-09", "2026-09-28 09:00:00", "", "", "", "", "", "",
                 "2026-10-30 10:00:00", "", "", ""]])
    _write_csv(folder / "final_progress.csv",
               ["contract_id", "line_no", "claimed_pct", "admitted_pct", "comment"], [])


def write_sample(folder: str | Path) -> Path:
    """Write the sample operation's data folder (CSV files + one DPGF .xlsx per contract)."""
    folder = Path(folder)
    (folder / "dpgf").mkdir(parents=True, exist_ok=True)
    rng = random.Random(42)
    _write_csv(folder / "operation.csv",
               ["code", "name", "buyer_name", "buyer_siret", "buyer_kind", "deadline_days", "city"],
               [[OPERATION_CODE,
                 "Construction d'une unité EHPAD de 42 lits et extension du service SMR",
                 "Centre hospitalier de Montbrison-les-Vignes", company_siret("CHMV"),
                 "health", "", "Montbrison-les-Vignes"]])
    _write_csv(folder / "companies.csv", ["code", "name", "siret", "is_sme", "city"],
               [[code, name, company_siret(code), "oui" if sme else "non", city]
                for code, name, sme, city in COMPANIES])

    contracts, sit_rows, prog_rows, plan_rows = [], [], [], []
    totals: dict[str, int] = {}
    for lot, lot_name, company, start, duration, lines in LOTS:
        cid = f"{OPERATION_CODE}-L{lot}"
        amounts = [_cents(_dec(q) * _dec(p)) for _, _, q, p, _, _ in lines]
        total = sum(amounts)
        totals[lot] = total
        revisable = lot == "02"
        advance = {"02": 5, "09": 10}.get(lot, 0)
        advance_cents = _cents(Decimal(total * 120 * advance) / Decimal(100 * 100 * 100))
        contracts.append([
            cid, lot, lot_name, company, f"Lot {lot} – {lot_name}", "2025-03-03", _euros(total),
            "20", "5", "ttc", _euros(advance_cents) if advance else "",
            "revisable" if revisable else "firm", "0.125" if revisable else "",
            "BT01" if revisable else "", "2024-11" if revisable else "",
            # the advance is paid from the notification: L02 on time, L09 13 days late
            {"02": "2025-04-10 10:00:00", "09": "2025-05-05 10:00:00"}.get(lot, ""),
            # the charpente's CCAP shortens its délai de garantie to six months
            "6" if lot == "03" else "",
        ])
        wb = Workbook()
        ws = wb.active
        ws.title = "DPGF"
        ws.append(["line_no", "label", "unit", "quantity", "unit_price", "amount", "may_exceed",
                   "amendment_no", "subcontract_id"])
        line_nos = []
        for i, (line, amount) in enumerate(zip(lines, amounts, strict=True), 1):
            label, unit, qty, price = line[:4]
            line_no = f"{lot}.{i:02d}"
            line_nos.append(line_no)
            may_exceed = "oui" if "métré" in label else ""
            sub = "ST-GO-PIEUX" if lot == "02" and i == 1 else ""
            ws.append([line_no, label, unit, qty, price, _euros(amount), may_exceed, "", sub])
        amendment_lines = []
        if lot == "06":
            amendment_lines = [
                ("AV1.01", "Cloisons de l'unité protégée (avenant 1)", "m2", "310", "58.00"),
                ("AV1.02", "Portes à oculus de l'unité protégée (avenant 1)", "u", "6", "1145.00"),
            ]
            for line_no, label, unit, qty, price in amendment_lines:
                ws.append([line_no, label, unit, qty, price,
                           _euros(_cents(_dec(qty) * _dec(price))), "", 1, ""])
        wb.save(folder / "dpgf" / f"{cid}.xlsx")

        # monthly cumulative progress, whole percent, S-shaped per line
        windows = [(s, e) for *_, s, e in lines]
        if amendment_lines:
            windows += [(0.55, 1.0), (0.6, 1.0)]
            line_nos += [a[0] for a in amendment_lines]
        # the planning: the same S-shape, a month ahead of what happened
        for m in range(duration):
            ahead = 100 if m >= duration - 2 else round(100 * _smooth((m + 2) / duration))
            plan_rows.append([cid, _month(start + m), ahead])
        last_steps = LAST_SITUATION_STEPS.get(lot, 6)
        previous: dict[str, int] = {}
        validated = None
        for n in range(1, duration + 1):
            month = _month(start + n - 1)
            x = n / duration
            for line_no, (s, e) in zip(line_nos, windows, strict=True):
                if line_no.startswith("AV1") and n < 4:
                    continue  # the amendment is signed before situation 4
                pct = round(100 * _smooth((x - s) / (e - s))) if x > s else 0
                if n == duration:
                    pct = 100
                comment = ""
                if lot == "01" and line_no == "01.03" and n >= 4:
                    pct = 104  # measured quantities above the DPGF
                if lot == "06" and line_no == "06.01" and n == 3:
                    pct = previous[line_no] - 5
                    comment = ("Correction OPC : doublages du R+1 non réceptionnés, "
                               "avancement ramené de la situation précédente")
                previous[line_no] = pct
                prog_rows.append([cid, n, line_no, pct, comment])
            steps = len(STEP_GAPS) + 1 if n < duration else last_steps
            row = _situation_row(rng, cid, lot, n, month, steps, not_before=validated)
            validated = row[7] or None  # moa_at: the next projet waits for it
            sit_rows.append(row)
    _fix_downward_progress(prog_rows)

    _write_csv(folder / "contracts.csv",
               ["contract_id", "lot_code", "lot_name", "company_code", "title", "notified_on",
                "initial_total_ht", "vat_rate", "retention_rate", "retention_base", "advance",
                "price_form", "revision_fixed_part", "revision_indices", "revision_base_month",
                "advance_paid_at", "guarantee_months"],
               contracts)
    _write_end_of_contracts(folder)
    _write_csv(folder / "amendments.csv",
               ["contract_id", "amendment_no", "signed_on", "amount", "label"],
               [[f"{OPERATION_CODE}-L06", 1, "2026-04-20", "24850.00",
                 "Avenant 1 – cloisonnement de l'unité protégée"]])
    _write_csv(folder / "subcontracts.csv",
               ["subcontract_id", "contract_id", "company_code", "scope", "amount",
                "accepted_on", "direct_payment"],
               [["ST-GO-PIEUX", f"{OPERATION_CODE}-L02", "FPV",
                 "Pieux forés tarière creuse (DC4 accepté)", "186000.00", "2025-03-28", "oui"]])
    # the pile subcontractor's own requests: the first accepted by the titulaire, the second
    # left unanswered (deemed accepted once its 15 days expired) and paid 8 days late, the third
    # accepted and not paid yet
    _write_csv(folder / "direct_payment_requests.csv",
               ["subcontract_id", "n", "deposited_at", "decision", "decided_at", "reason",
                "paid_at"],
               [["ST-GO-PIEUX", 1, "2025-05-02 09:30:00", "acceptée", "2025-05-05 16:00:00", "",
                 "2025-06-07 12:29:00"],
                ["ST-GO-PIEUX", 2, "2025-05-30 11:00:00", "", "", "", "2025-08-12 10:00:00"],
                ["ST-GO-PIEUX", 3, "2025-06-30 15:10:00", "acceptée", "2025-07-01 09:00:00",
                 "", ""]])
    _write_csv(folder / "situations.csv",
               ["contract_id", "n", "month", "submitted_at", "verified_at", "moe_at", "amo_at",
                "moa_at", "paid_at", "interrupted_at", "resumed_at", "interruption_reason"],
               sit_rows)
    _write_csv(folder / "progress.csv", ["contract_id", "n", "line_no", "pct", "comment"],
               prog_rows)
    _write_csv(folder / "adjustments.csv", ["contract_id", "n", "kind", "days", "amount", "reason"],
               [[f"{OPERATION_CODE}-L05", 4, "pénalité", 12, "",
                 "Retard de 12 jours sur la mise hors d'air du bâtiment B (OS n°7)"],
                [f"{OPERATION_CODE}-L01", 6, "pénalité", 3, "",
                 "Retard de 3 jours sur la libération de la plateforme de grue"],
                [f"{OPERATION_CODE}-L04", 4, "prime", "", "1500.00",
                 "Prime d'achèvement anticipé de l'étanchéité (CCAP art. 4.3)"]])
    # the MOA holds back 1 200 € at L08's second validation; the third état pays it back
    _write_csv(folder / "rectifications.csv", ["contract_id", "n", "amount", "reason"],
               [[f"{OPERATION_CODE}-L08", 2, "-1200.00",
                 "Nettoyage des locaux livrés non fait : montant retenu jusqu'à sa reprise"]])
    _write_csv(folder / "guarantees.csv",
               ["guarantee_id", "contract_id", "kind", "amount", "received_on", "issuer"],
               [["GAPD-MAL-01", f"{OPERATION_CODE}-L05", "gapd",
                 _euros(_cents(Decimal(totals["05"]) * Decimal("0.06") / 100)), "2026-02-10",
                 "Banque Populaire Auvergne Rhône Alpes"]])
    _write_csv(folder / "schedule.csv", ["contract_id", "month", "planned_pct"], plan_rows)
    _write_csv(folder / "price_index.csv", ["index_code", "month", "value", "published_on"],
               [list(r) for r in _bt01_series()])
    _write_csv(folder / "ecb_rates.csv", ["effective_on", "rate"], [list(r) for r in ECB_RATES])
    _write_billing_identity(folder, company_siret("CHMV"), company_siret("ARC"),
                            [c[0] for c in contracts])
    return folder


PUBLIC_SIRET_SEEDS = {"CHMV": 6420017, "TRESO": 1420031}


def company_siret(code: str) -> str:
    """The fictitious SIRET of a sample company (public bodies' SIREN start with 2)."""
    if code in PUBLIC_SIRET_SEEDS:
        return make_siret(PUBLIC_SIRET_SEEDS[code], public=True)
    index = next(i for i, c in enumerate(COMPANIES, start=1) if c[0] == code)
    return make_siret(1000 * index + 37)


def _write_billing_identity(folder: Path, buyer_siret: str, moe_siret: str,
                            contract_ids: list[str]) -> None:
    """The hospital's Chorus Pro structure (MOA and paying service: a code service or a legal
    commitment number must be given) and each contract's fiche d'identité du marché."""
    _write_csv(folder / "chorus_structures.csv",
               ["siret", "name", "moa_mode", "service_required", "engagement_required",
                "service_or_engagement", "services"],
               [[buyer_siret, "Centre hospitalier de Montbrison-les-Vignes", "avec_moa", "non",
                 "non", "oui", "DIR-TRAVAUX, DIR-FINANCES"]])
    _write_csv(folder / "billing_identity.csv",
               ["contract_id", "market_number", "moe_siret", "moa_siret", "payer_siret",
                "service_code", "engagement_number"],
               [[cid, f"2025-CHMV-{cid[-3:]}", moe_siret, buyer_siret, buyer_siret,
                 "DIR-TRAVAUX", f"EJ2025-{i:04d}"] for i, cid in enumerate(contract_ids, 1)])


def _situation_row(rng: random.Random, cid: str, lot: str, n: int, month: str,
                   steps: int, not_before: str | None = None) -> list:
    """One situation's dated steps. A projet is only submitted once the previous situation
    is validated by the MOA (`not_before`), as the platform requires."""
    end = _month_end(month)
    day = end - timedelta(days=rng.randint(0, 3))
    if not_before is not None:
        day = max(day, datetime.fromisoformat(not_before).date() + timedelta(days=1))
    stamps = {"submitted_at": _at(day, rng.randint(14, 18), rng.randint(0, 59))}
    for step, (lo, hi) in STEP_GAPS.items():
        day = day + timedelta(days=rng.randint(lo, hi))
        extra = DELAYS.get((lot, n))
        if extra and extra[0] == step:
            day += timedelta(days=extra[1])
        if lot == INTERRUPTION[0] and n == INTERRUPTION[1] and step == "verified_at":
            day += timedelta(days=INTERRUPTION[3])
        stamps[step] = _at(day, rng.randint(8, 17), rng.randint(0, 59))
    names = ["submitted_at", *STEP_GAPS]
    cells = [stamps[s].isoformat(sep=" ") if i < steps else "" for i, s in enumerate(names)]
    interruption = ["", "", ""]
    if lot == INTERRUPTION[0] and n == INTERRUPTION[1]:
        start = stamps["submitted_at"] + timedelta(days=INTERRUPTION[2])
        interruption = [start.isoformat(sep=" "),
                        (start + timedelta(days=INTERRUPTION[3])).isoformat(sep=" "),
                        "Attestation d'assurance décennale du sous-traitant manquante"]
    return [cid, n, month, *cells, *interruption]


def _fix_downward_progress(rows: list[list]) -> None:
    """S-curves never go down except where a correction is written with its reason."""
    last: dict = {}
    for row in rows:
        key = (row[0], row[2])
        if key in last and row[3] < last[key] and not row[4]:
            row[3] = last[key]
        last[key] = row[3]


def open_sample_database(url: str | None = None):
    """An engine on `url` (default: a new temporary SQLite file) holding the sample operation."""
    import tempfile

    from gesprokit.db import get_engine
    from gesprokit.importer import import_folder

    engine = get_engine(url or f"sqlite:///{tempfile.mkdtemp(prefix='gesprokit-')}/sample.db")
    import_folder(SHIPPED_DIR, engine)
    return engine


DEMO_PASSWORD = "demo-gesprokit"  # the sample's demonstration accounts only
DEMO_ACCOUNTS = [  # email, name, company, role
    ("alu@mal.fr", "Karim Benali", "MAL", "contractor"),
    ("go@bcc.fr", "Sophie Martin", "BCC", "contractor"),
    ("opc@opc.fr", "Claire Dubois", "OPC", "verifier"),
    ("archi@arc.fr", "Julien Moreau", "ARC", "moe"),
    ("amo@amo.fr", "Nadia Lefèvre", "AMO", "amo"),
    ("direction@chmv.fr", "Pierre Garnier", "CHMV", "moa"),
    ("mandat@spl-forez.fr", "Sophie Roche", "SPL", "moa"),
    ("comptable@treso.fr", "Hélène Roux", "TRESO", "treasury"),
    ("audit@chmv.fr", "Marc Petit", "CHMV", "auditor"),
    ("admin@chmv.fr", "Sandrine Blanc", "CHMV", "admin"),
]


def seed_demo_accounts(engine, only_missing: bool = False) -> list[str]:
    """The demonstration accounts (one per role), password DEMO_PASSWORD, granted the sample
    operation; with `only_missing`, those whose e-mail has no account yet (the existing ones
    get the operation if they lack it). Returns the e-mails created."""
    from sqlalchemy import select

    from gesprokit.accounts import create_user, grant
    from gesprokit.schema import User

    existing = set()
    if only_missing:
        with engine.connect() as conn:
            existing = set(conn.execute(select(User.email)).scalars())
    created = []
    for email, name, company, role in DEMO_ACCOUNTS:
        if email not in existing:
            create_user(engine, email, name, company, role, DEMO_PASSWORD,
                        now=datetime(2025, 3, 3, 9, 0), operations=[OPERATION_CODE])
            created.append(email)
        else:
            grant(engine, email, OPERATION_CODE)
    return created


DEMO_PROFILES = {  # the titulaires' own profiles, as their accounts would fill them in
    "alu@mal.fr": {"address": "14 rue des Tanneurs", "postal_code": "42600",
                   "city": "Montbrison", "contact_name": "Karim Benali",
                   "contact_email": "compta@mal.fr", "contact_phone": "04 77 58 12 30",
                   "iban": "FR76 1027 8078 0000 0201 2345 654", "bic": "CMCIFR2A"},
    "go@bcc.fr": {"address": "3 avenue de la Gare", "postal_code": "42110", "city": "Feurs",
                  "contact_name": "Sophie Martin", "contact_email": "administratif@bcc.fr",
                  "contact_phone": "04 77 26 40 11",
                  "iban": "FR76 3000 4008 2000 0123 4567 864", "bic": "BNPAFRPP"},
}


def seed_demo_profiles(engine) -> None:
    """The demonstration titulaires' profiles, for the companies that have none yet (a
    profile someone changed is never overwritten)."""
    from sqlalchemy import select

    from gesprokit.company_profile import update_profile
    from gesprokit.schema import CompanyProfile
    from gesprokit.workflow import Actor

    with engine.connect() as conn:
        filled = set(conn.execute(select(CompanyProfile.company_code)).scalars())
    for email, values in DEMO_PROFILES.items():
        _, name, company, role = next(a for a in DEMO_ACCOUNTS if a[0] == email)
        if company not in filled:
            update_profile(engine, Actor(email, role, company, name=name), values,
                           now=datetime(2025, 3, 3, 9, 30))


def seed_demo_messages(engine) -> None:
    """A short thread on L05's May situation (a question of the OPC, the contractor's
    answer), when no message was written yet."""
    from sqlalchemy import func, select

    from gesprokit.messages import post_message
    from gesprokit.schema import Message
    from gesprokit.workflow import Actor

    with engine.connect() as conn:
        if conn.execute(select(func.count()).select_from(Message)).scalar():
            return
    opc = Actor("opc@opc.fr", "verifier", "OPC", name="Claire Dubois")
    mal = Actor("alu@mal.fr", "contractor", "MAL", name="Karim Benali")
    contract = f"{OPERATION_CODE}-L05"
    post_message(engine, opc, contract, 6, "Les réglages des ouvrants du R+1 sont-ils faits ? "
                 "Je ne les vois pas au journal de chantier.", now=datetime(2026, 6, 2, 9, 15))
    post_message(engine, mal, contract, 6, "Faits le 28 mai ; le procès-verbal est déposé "
                 "dans « Documents et visas ».", now=datetime(2026, 6, 2, 11, 40))


DEMO_MANDATE = ("SPL", ["chorus", "delay", "validate"], date(2026, 7, 1),
                "Convention de mandat n°2026-04 du 24 juin 2026")


def seed_demo_mandate(engine) -> None:
    """The owner's mandate to SPL Forez (états d'acompte, payment delay, Chorus Pro) from
    1 July 2026, when the operation has no mandate yet."""
    from sqlalchemy import func, select

    from gesprokit.mandates import grant_mandate
    from gesprokit.schema import MoaMandate
    from gesprokit.workflow import Actor

    with engine.connect() as conn:
        if conn.execute(select(func.count()).select_from(MoaMandate)).scalar():
            return
    company, powers, starts_on, reference = DEMO_MANDATE
    owner = Actor("direction@chmv.fr", "moa", "CHMV", name="Pierre Garnier")
    grant_mandate(engine, owner, OPERATION_CODE, company, powers, starts_on, None, reference,
                  now=datetime(2026, 6, 24, 15, 0))


def seed_demo_chorus(engine) -> bool:
    """L05's May billing file in Chorus Pro, when no piece was deposited yet: the titulaire's
    A4 and the MOE's A15 (with their signed PDFs: the situation is imported), sent to the
    local stand-in of Chorus Pro filled from the base; then the MOA suspends the A15 for a
    missing certificate, which the MOE is asked to complete. True when it was made."""
    from sqlalchemy import func, select

    from gesprokit.chorus import billing, reception
    from gesprokit.chorus.contract_server import ContractServer, State
    from gesprokit.chorus.local import client_for, state_from_base
    from gesprokit.schema import ChorusPiece
    from gesprokit.workflow import Actor, File

    with engine.connect() as conn:
        if conn.execute(select(func.count()).select_from(ChorusPiece)).scalar():
            return False
    contract = f"{OPERATION_CODE}-L05"
    clock = [datetime(2026, 6, 22, 9, 0)]
    state = state_from_base(engine, State(clock=lambda: clock[0]))

    def actor(email: str) -> Actor:
        _, name, company, role = next(a for a in DEMO_ACCOUNTS if a[0] == email)
        return Actor(email, role, company, name=name, operations=frozenset({OPERATION_CODE}))

    with ContractServer(state) as server, client_for(server) as client:
        for email, frame, number, title in (
                ("alu@mal.fr", "A4", "PD-L05-06", "Projet de décompte n°6 signé"),
                ("archi@arc.fr", "A15", "EA-L05-06", "État d'acompte n°6 signé")):
            billing.deposit(engine, client, actor(email), contract, frame, number, n=6,
                            files=[File(f"{number}.pdf", sample_pdf(title))], now=clock[0])
            clock[0] = clock[0].replace(hour=clock[0].hour + 1)
        a15 = int(billing.billing_files(engine, contract, "n6").iloc[-1]["piece_id"])
        clock[0] = datetime(2026, 6, 23, 10, 30)
        reception.treat(engine, client, actor("direction@chmv.fr"), a15, "suspend",
                        "PIECE_MANQUANTE", "Attestation d'assurance décennale 2026 de MAL à "
                        "joindre à l'état d'acompte.", now=clock[0])
    return True


def sample_pdf(text: str) -> bytes:
    """A one-page PDF standing for a deposited file."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=14)
    pdf.multi_cell(0, 8, text)
    return bytes(pdf.output())


def seed_library(engine) -> None:
    """A small library history: execution plans with visas, a meeting report read by some."""
    from gesprokit.library.actions import acknowledge, deposit, give_visa, new_version
    from gesprokit.workflow import Actor, File

    def who(email: str) -> Actor:
        _, name, company, role = next(a for a in DEMO_ACCOUNTS if a[0] == email)
        return Actor(email=email, role=role, company_code=company, name=name,
                     operations=frozenset({OPERATION_CODE}))

    def at(month: int, day: int) -> datetime:
        return datetime(2026, month, day, 10, 0)

    mal, go = who("alu@mal.fr"), who("go@bcc.fr")
    patio, _ = deposit(engine, mal, operation_code=OPERATION_CODE, lot_code="05",
                       title="Carnet de détails des menuiseries du patio",
                       folder_code="plans-execution", discipline="MEN",
                       file=File("details-patio.pdf", sample_pdf("Détails patio")),
                       now=at(1, 12))
    give_visa(engine, who("archi@arc.fr"), patio, "A", "REF",
              "Seuils PMR non conformes : ressaut de 2 cm maximum", now=at(1, 19))
    give_visa(engine, who("opc@opc.fr"), patio, "A", "VAO", "Préciser les fixations",
              now=at(1, 23))
    new_version(engine, mal, patio, File("details-patio-b.pdf", sample_pdf("Détails patio B")),
                description="Seuils reprises", now=at(2, 2))
    give_visa(engine, who("archi@arc.fr"), patio, "B", "VSO", now=at(2, 6))
    give_visa(engine, who("opc@opc.fr"), patio, "B", "VSO", now=at(2, 20))
    # a question on the document's thread, and the titulaire's answer
    from gesprokit.document_messages import post_document_message

    post_document_message(engine, who("opc@opc.fr"), patio, "Les fixations en rive de "
                          "l'indice B valent-elles aussi pour les châssis du R+1 ?",
                          now=at(2, 20).replace(hour=16))
    post_document_message(engine, mal, patio, "Oui : même détail au R+1 (voir la coupe 4).",
                          now=at(2, 21))
    deposit(engine, mal, operation_code=OPERATION_CODE, lot_code="05",
            title="Calepinage des brise-soleil orientables", folder_code="plans-execution",
            discipline="MEN", file=File("bso.pdf", sample_pdf("Brise-soleil")), now=at(3, 2))
    deposit(engine, go, operation_code=OPERATION_CODE, lot_code="02",
            title="Plan de réservations du niveau R+1", folder_code="plans-execution",
            discipline="STR", file=File("resa.pdf", sample_pdf("Réservations")), now=at(3, 9))
    cr, index = deposit(engine, who("archi@arc.fr"), operation_code=OPERATION_CODE,
                        title="Compte rendu de chantier n°48", folder_code="comptes-rendus",
                        discipline="CR", file=File("cr48.pdf", sample_pdf("CR 48")),
                        recipients=["alu@mal.fr", "go@bcc.fr", "opc@opc.fr", "amo@amo.fr"],
                        now=at(3, 10))
    acknowledge(engine, mal, cr, index, now=at(3, 10).replace(hour=15))
    acknowledge(engine, who("opc@opc.fr"), cr, index, now=at(3, 11))
