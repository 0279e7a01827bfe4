"""The input tables: file name, columns and their parsers (see docs/data-format.md)."""

from __future__ import annotations

from gesprokit.circuit import STEPS
from gesprokit.importer import fields as f
from gesprokit.importer.fields import Field

BUYER_KIND = {"state": "state", "etat": "state", "état": "state", "local": "local",
              "collectivite": "local", "collectivité": "local", "health": "health",
              "sante": "health", "santé": "health", "eps": "health",
              "public_company": "public_company", "entreprise publique": "public_company"}
PRICE_FORM = {"firm": "firm", "ferme": "firm", "revisable": "revisable", "révisable": "revisable"}
RETENTION_BASE = {"ttc": "ttc", "ht": "ht"}
ADJUSTMENT_KIND = {"penalty": "penalty", "pénalité": "penalty", "penalite": "penalty",
                   "bonus": "bonus", "prime": "bonus"}
MOA_MODE = {"avec_moa": "avec_moa", "avec moa": "avec_moa",
            "exclusivement_moa": "exclusivement_moa", "exclusivement moa": "exclusivement_moa",
            "sans_moa": "sans_moa", "sans moa": "sans_moa"}
DECISION = {"acceptee": "accepted", "acceptée": "accepted", "accepted": "accepted",
            "refusee": "refused", "refusée": "refused", "refused": "refused"}
ANSWER = {"sans reserves": "accepted", "sans réserves": "accepted", "accepted": "accepted",
          "avec reserves": "reserves", "avec réserves": "reserves", "reserves": "reserves"}
GUARANTEE_KIND = {"gapd": "gapd", "garantie à première demande": "gapd", "caution": "caution"}

TABLES: dict[str, list[Field]] = {
    "operation": [
        Field("code", f.text(20)), Field("name", f.text(200)), Field("buyer_name", f.text(200)),
        Field("buyer_siret", f.siret), Field("buyer_kind", f.choice(BUYER_KIND)),
        Field("deadline_days", f.integer(1, 60), required=False, target="deadline_days_override"),
        Field("city", f.text(100), required=False),
    ],
    "companies": [
        Field("code", f.text(20)), Field("name", f.text(200)), Field("siret", f.siret),
        Field("is_sme", f.boolean, required=False, default=True),
        Field("city", f.text(100), required=False),
    ],
    "contracts": [
        Field("contract_id", f.text(30)), Field("lot_code", f.text(10)),
        Field("lot_name", f.text(200)), Field("company_code", f.text(20)),
        Field("title", f.text(200)), Field("notified_on", f.day),
        Field("initial_total_ht", f.cents(positive=True)),
        Field("vat_rate", f.percent_bp(10_000), required=False, default=2000,
              target="vat_rate_bp"),
        Field("retention_rate", f.percent_bp(500), required=False, default=500,
              target="retention_rate_bp"),
        Field("retention_base", f.choice(RETENTION_BASE), required=False, default="ttc"),
        Field("advance", f.cents(), required=False, default=0, target="advance_cents"),
        Field("advance_start", f.percent_bp(10_000), required=False, default=6500,
              target="advance_start_bp"),
        Field("advance_end", f.percent_bp(10_000), required=False, default=8000,
              target="advance_end_bp"),
        Field("advance_due_from", f.day, required=False),
        Field("advance_paid_at", f.timestamp, required=False),
        Field("guarantee_months", f.integer(1, 120), required=False, default=12),
        Field("price_form", f.choice(PRICE_FORM), required=False, default="firm"),
        Field("revision_fixed_part", f.fraction_bp, required=False, default=0,
              target="revision_fixed_bp"),
        Field("revision_indices", f.text(200), required=False),
        Field("revision_base_month", f.month, required=False),
        Field("coef_decimals", f.integer(2, 6), required=False, default=4),
        Field("penalty_denominator", f.integer(1), required=False, default=3000),
        Field("penalty_cap", f.percent_bp(10_000), required=False, default=1000,
              target="penalty_cap_bp"),
        Field("penalty_waiver", f.cents(), required=False, default=100_000,
              target="penalty_waiver_cents"),
    ],
    "price_lines": [
        Field("contract_id", f.text(30)), Field("line_no", f.text(20)),
        Field("label", f.text(300)), Field("unit", f.text(10), required=False),
        Field("quantity", f.decimal_text, required=False),
        Field("unit_price", f.cents(allow_negative=True), required=False,
              target="unit_price_cents"),
        Field("amount", f.cents(allow_negative=True), required=False, target="amount_cents"),
        Field("may_exceed", f.boolean, required=False, default=False),
        Field("amendment_no", f.integer(1), required=False),
        Field("subcontract_id", f.text(30), required=False),
    ],
    "amendments": [
        Field("contract_id", f.text(30)), Field("amendment_no", f.integer(1)),
        Field("signed_on", f.day), Field("amount", f.cents(allow_negative=True),
                                         target="amount_cents"),
        Field("label", f.text(300)),
    ],
    "subcontracts": [
        Field("subcontract_id", f.text(30)), Field("contract_id", f.text(30)),
        Field("company_code", f.text(20)), Field("scope", f.text(300)),
        Field("amount", f.cents(positive=True), target="amount_cents"),
        Field("accepted_on", f.day),
        Field("direct_payment", f.boolean, required=False, default=True),
        Field("advance", f.cents(), required=False, target="advance_cents"),
        Field("advance_paid_at", f.timestamp, required=False),
        Field("revision_fixed_part", f.fraction_bp, required=False,
              target="revision_fixed_bp"),
        Field("revision_indices", f.text(200), required=False),
        Field("revision_base_month", f.month, required=False),
    ],
    "situations": [
        Field("contract_id", f.text(30)), Field("n", f.integer(1)), Field("month", f.month),
        *[Field(step, f.timestamp, required=False) for step in STEPS],
        Field("interrupted_at", f.timestamp, required=False),
        Field("resumed_at", f.timestamp, required=False),
        Field("interruption_reason", f.text(1000), required=False),
    ],
    "progress": [
        Field("contract_id", f.text(30)), Field("n", f.integer(1)), Field("line_no", f.text(20)),
        Field("pct", f.percent_bp(), target="pct_bp"),
        Field("comment", f.text(1000), required=False),
    ],
    "adjustments": [
        Field("contract_id", f.text(30)), Field("n", f.integer(1)),
        Field("kind", f.choice(ADJUSTMENT_KIND)),
        Field("days", f.integer(1), required=False),
        Field("amount", f.cents(positive=True), required=False, target="amount_cents"),
        Field("reason", f.text(1000)),
    ],
    "rectifications": [
        Field("contract_id", f.text(30)), Field("n", f.integer(1)),
        Field("amount", f.cents(allow_negative=True), target="amount_cents"),
        Field("reason", f.text(1000)),
    ],
    "guarantees": [
        Field("guarantee_id", f.text(30)), Field("contract_id", f.text(30)),
        Field("kind", f.choice(GUARANTEE_KIND)), Field("amount", f.cents(positive=True),
                                                       target="amount_cents"),
        Field("received_on", f.day), Field("issuer", f.text(200)),
    ],
    "direct_payment_requests": [
        Field("subcontract_id", f.text(30)), Field("n", f.integer(1)),
        Field("deposited_at", f.timestamp), Field("decision", f.choice(DECISION), required=False),
        Field("decided_at", f.timestamp, required=False),
        Field("reason", f.text(1000), required=False),
        Field("paid_at", f.timestamp, required=False),
    ],
    "receptions": [
        Field("contract_id", f.text(30)), Field("received_on", f.day),
        Field("reserves", f.text(2000), required=False),
        Field("reserves_cost", f.cents(positive=True), required=False,
              target="reserves_cost_cents"),
        Field("reserves_lifted_on", f.day, required=False),
        Field("guarantee_until", f.day, required=False),
    ],
    "final_accounts": [
        Field("contract_id", f.text(30)), Field("month", f.month),
        Field("claimed_at", f.timestamp), Field("settled_at", f.timestamp, required=False),
        Field("signed_at", f.timestamp, required=False),
        Field("answered_at", f.timestamp, required=False),
        Field("answer", f.choice(ANSWER), required=False),
        Field("claim_text", f.text(4000), required=False),
        Field("disputed", f.cents(positive=True), required=False, target="disputed_cents"),
        Field("tacit_at", f.timestamp, required=False),
        Field("solde_paid_at", f.timestamp, required=False),
        Field("retention_released_at", f.timestamp, required=False),
        Field("kept_released_at", f.timestamp, required=False),
    ],
    "final_progress": [
        Field("contract_id", f.text(30)), Field("line_no", f.text(20)),
        Field("claimed_pct", f.percent_bp(), required=False, target="claimed_bp"),
        Field("admitted_pct", f.percent_bp(), required=False, target="admitted_bp"),
        Field("comment", f.text(1000), required=False),
    ],
    "schedule": [
        Field("contract_id", f.text(30)), Field("month", f.month),
        Field("planned_pct", f.percent_bp(10_000), target="pct_bp"),
    ],
    "price_index": [
        Field("index_code", f.text(20)), Field("month", f.month),
        Field("value", f.index_e4, target="value_e4"), Field("published_on", f.day),
    ],
    "chorus_structures": [
        Field("siret", f.siret), Field("name", f.text(200)),
        Field("moa_mode", f.choice(MOA_MODE)),
        Field("service_required", f.boolean, required=False, default=False),
        Field("engagement_required", f.boolean, required=False, default=False),
        Field("service_or_engagement", f.boolean, required=False, default=False),
        Field("services", f.code_list, required=False, default=[]),
    ],
    "billing_identity": [
        Field("contract_id", f.text(30)), Field("market_number", f.text(50)),
        Field("moe_siret", f.siret), Field("moa_siret", f.siret), Field("payer_siret", f.siret),
        Field("service_code", f.text(100), required=False),
        Field("engagement_number", f.text(50), required=False),
    ],
    "ecb_rates": [
        Field("effective_on", f.day), Field("rate", f.percent_bp(10_000), target="rate_bp"),
    ],
}

REQUIRED_FILES = ("operation", "companies", "contracts", "situations", "progress",
                  "price_index", "ecb_rates")
