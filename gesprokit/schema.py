"""The data model: one SQLAlchemy class per table, constraints in the schema.

Money is integer cents (BigInteger), progress and rates are basis points,
index values are stored ×10 000 (``value_e4``) so that nothing is a float.
Months are ``YYYY-MM`` strings. Column names follow GLOSSARY.md.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

BUYER_KINDS = ("state", "local", "health", "public_company")
ROLES = (
    "contractor", "cocontractor", "subcontractor", "verifier", "moe", "amo", "moa",
    "treasury", "auditor", "admin",
)
MONTH_CHECK = "length({col}) = 7 AND substr({col}, 5, 1) = '-'"


class Base(DeclarativeBase):
    pass


class Operation(Base):
    __tablename__ = "operation"
    __table_args__ = (
        CheckConstraint(f"buyer_kind IN {BUYER_KINDS}", name="ck_operation_buyer_kind"),
        CheckConstraint("deadline_days_override IS NULL OR deadline_days_override BETWEEN 1 AND 60",
                        name="ck_operation_deadline"),
    )
    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    buyer_name: Mapped[str] = mapped_column(String(200))
    buyer_siret: Mapped[str] = mapped_column(String(14))
    buyer_kind: Mapped[str] = mapped_column(String(20))
    deadline_days_override: Mapped[int | None] = mapped_column(Integer)
    city: Mapped[str | None] = mapped_column(String(100))


class Company(Base):
    __tablename__ = "company"
    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    siret: Mapped[str] = mapped_column(String(14), unique=True)
    is_sme: Mapped[bool] = mapped_column(Boolean, default=True)
    city: Mapped[str | None] = mapped_column(String(100))


class CompanyProfile(Base):
    """What a company says of itself: postal address, administrative contact, bank details
    (gesprokit.company_profile); kept by its own accounts."""

    __tablename__ = "company_profile"
    company_code: Mapped[str] = mapped_column(ForeignKey("company.code"), primary_key=True)
    address: Mapped[str | None] = mapped_column(String(200))
    postal_code: Mapped[str | None] = mapped_column(String(5))
    city: Mapped[str | None] = mapped_column(String(100))
    contact_name: Mapped[str | None] = mapped_column(String(200))
    contact_email: Mapped[str | None] = mapped_column(String(200))
    contact_phone: Mapped[str | None] = mapped_column(String(30))
    iban: Mapped[str | None] = mapped_column(String(34))
    bic: Mapped[str | None] = mapped_column(String(11))
    bank_changed_at: Mapped[datetime | None] = mapped_column(DateTime)  # IBAN or BIC changed
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    updated_by: Mapped[str] = mapped_column(String(200))


class User(Base):
    __tablename__ = "app_user"
    __table_args__ = (CheckConstraint(f"role IN {ROLES}", name="ck_user_role"),)
    email: Mapped[str] = mapped_column(String(200), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    company_code: Mapped[str] = mapped_column(ForeignKey("company.code"))
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str | None] = mapped_column(String(300))
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime)


class OperationGrant(Base):
    """An operation an account may act in (its role and company come from the account)."""

    __tablename__ = "operation_grant"
    email: Mapped[str] = mapped_column(ForeignKey("app_user.email"), primary_key=True)
    operation_code: Mapped[str] = mapped_column(ForeignKey("operation.code"), primary_key=True)
    granted_at: Mapped[datetime] = mapped_column(DateTime)
    granted_by: Mapped[str] = mapped_column(String(200))


class PasswordReset(Base):
    """A one-time password-reset code: only its SHA-256 is kept, with its expiry."""

    __tablename__ = "password_reset"
    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    email: Mapped[str] = mapped_column(ForeignKey("app_user.email"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)


class LoginFailure(Base):
    """A wrong password for an e-mail: the recent ones make the login wait (throttling)."""

    __tablename__ = "login_failure"
    failure_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(200), index=True)
    at: Mapped[datetime] = mapped_column(DateTime)


class Lot(Base):
    __tablename__ = "lot"
    operation_code: Mapped[str] = mapped_column(ForeignKey("operation.code"), primary_key=True)
    code: Mapped[str] = mapped_column(String(10), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))


class Contract(Base):
    __tablename__ = "contract"
    __table_args__ = (
        ForeignKeyConstraint(["operation_code", "lot_code"], ["lot.operation_code", "lot.code"]),
        CheckConstraint("vat_rate_bp BETWEEN 0 AND 10000", name="ck_contract_vat"),
        CheckConstraint("retention_rate_bp BETWEEN 0 AND 500", name="ck_contract_retention"),
        CheckConstraint("retention_base IN ('ttc', 'ht')", name="ck_contract_retention_base"),
        CheckConstraint("advance_cents >= 0", name="ck_contract_advance"),
        CheckConstraint("advance_start_bp >= 0 AND advance_end_bp > advance_start_bp",
                        name="ck_contract_advance_bounds"),
        CheckConstraint("price_form IN ('firm', 'revisable')", name="ck_contract_price_form"),
        CheckConstraint("revision_fixed_bp BETWEEN 0 AND 10000", name="ck_contract_fixed_part"),
        CheckConstraint("coef_decimals BETWEEN 2 AND 6", name="ck_contract_coef_decimals"),
        CheckConstraint("penalty_denominator > 0", name="ck_contract_penalty_denominator"),
        CheckConstraint("penalty_cap_bp BETWEEN 0 AND 10000", name="ck_contract_penalty_cap"),
        CheckConstraint("penalty_waiver_cents >= 0", name="ck_contract_penalty_waiver"),
    )
    contract_id: Mapped[str] = mapped_column(String(30), primary_key=True)
    operation_code: Mapped[str] = mapped_column(ForeignKey("operation.code"))
    lot_code: Mapped[str] = mapped_column(String(10))
    company_code: Mapped[str] = mapped_column(ForeignKey("company.code"))
    title: Mapped[str] = mapped_column(String(200))
    notified_on: Mapped[date] = mapped_column(Date)
    initial_total_ht: Mapped[int] = mapped_column(BigInteger)
    vat_rate_bp: Mapped[int] = mapped_column(Integer, default=2000)
    retention_rate_bp: Mapped[int] = mapped_column(Integer, default=500)
    retention_base: Mapped[str] = mapped_column(String(3), default="ttc")
    advance_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    advance_start_bp: Mapped[int] = mapped_column(Integer, default=6500)
    advance_end_bp: Mapped[int] = mapped_column(Integer, default=8000)
    price_form: Mapped[str] = mapped_column(String(10), default="firm")
    revision_fixed_bp: Mapped[int] = mapped_column(Integer, default=0)
    revision_base_month: Mapped[str | None] = mapped_column(String(7))
    coef_decimals: Mapped[int] = mapped_column(Integer, default=4)
    penalty_denominator: Mapped[int] = mapped_column(Integer, default=3000)
    penalty_cap_bp: Mapped[int] = mapped_column(Integer, default=1000)
    penalty_waiver_cents: Mapped[int] = mapped_column(BigInteger, default=100_000)
    # the advance is paid without a payment request: its deadline runs from the date the
    # contract sets (None: the notification), and its payment is recorded by the treasury
    advance_due_from: Mapped[date | None] = mapped_column(Date)
    advance_paid_at: Mapped[datetime | None] = mapped_column(DateTime)
    # the délai de garantie from the réception (CCAG-T art. 44.1: one year unless the CCAP
    # sets another)
    guarantee_months: Mapped[int] = mapped_column(Integer, default=12)


class RevisionTerm(Base):
    """One index of a contract's revision formula: Cn = a + Σ weight × I/I0."""

    __tablename__ = "revision_term"
    __table_args__ = (CheckConstraint("weight_bp BETWEEN 1 AND 10000", name="ck_term_weight"),)
    contract_id: Mapped[str] = mapped_column(ForeignKey("contract.contract_id"), primary_key=True)
    index_code: Mapped[str] = mapped_column(String(20), primary_key=True)
    weight_bp: Mapped[int] = mapped_column(Integer)


class Amendment(Base):
    __tablename__ = "amendment"
    contract_id: Mapped[str] = mapped_column(ForeignKey("contract.contract_id"), primary_key=True)
    amendment_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    signed_on: Mapped[date] = mapped_column(Date)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    label: Mapped[str] = mapped_column(String(300))


class Subcontract(Base):
    """Déclaration de sous-traitant (DC4) with paiement direct."""

    __tablename__ = "subcontract"
    __table_args__ = (CheckConstraint("amount_cents > 0", name="ck_subcontract_amount"),)
    subcontract_id: Mapped[str] = mapped_column(String(30), primary_key=True)
    contract_id: Mapped[str] = mapped_column(ForeignKey("contract.contract_id"))
    company_code: Mapped[str] = mapped_column(ForeignKey("company.code"))
    scope: Mapped[str] = mapped_column(String(300))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    accepted_on: Mapped[date] = mapped_column(Date)
    direct_payment: Mapped[bool] = mapped_column(Boolean, default=True)
    # the subcontractor's own advance (R2193-17..21), paid from the acceptance without a
    # payment request and repaid from its direct payments like the titulaire's
    advance_cents: Mapped[int | None] = mapped_column(BigInteger)
    advance_paid_at: Mapped[datetime | None] = mapped_column(DateTime)
    # its own revision formula, when the subcontract has one (else the contract's): fixed
    # part and base month here, the indices in subcontract_revision_term
    revision_fixed_bp: Mapped[int | None] = mapped_column(Integer)
    revision_base_month: Mapped[str | None] = mapped_column(String(7))


class SubcontractRevisionTerm(Base):
    """An index of a subcontract's own revision formula and its weight."""

    __tablename__ = "subcontract_revision_term"
    subcontract_id: Mapped[str] = mapped_column(ForeignKey("subcontract.subcontract_id"),
                                                primary_key=True)
    index_code: Mapped[str] = mapped_column(String(20), primary_key=True)
    contract_id: Mapped[str] = mapped_column(ForeignKey("contract.contract_id"))
    weight_bp: Mapped[int] = mapped_column(Integer)


class DirectPaymentRequest(Base):
    """A directly paid subcontractor's monthly payment request (the A10 piece): deposited by
    the subcontractor, accepted or refused by the titulaire within 15 days (deemed accepted
    after, R2193-12/13), then paid by the treasury; its payment delay runs from the
    acceptance (express, or deemed on the 15th day)."""

    __tablename__ = "direct_payment_request"
    __table_args__ = (
        ForeignKeyConstraint(["contract_id", "n"], ["situation.contract_id", "situation.n"]),
        CheckConstraint("decision IS NULL OR decision IN ('accepted', 'refused')",
                        name="ck_direct_payment_decision"),
    )
    subcontract_id: Mapped[str] = mapped_column(ForeignKey("subcontract.subcontract_id"),
                                                primary_key=True)
    n: Mapped[int] = mapped_column(Integer, primary_key=True)
    contract_id: Mapped[str] = mapped_column(ForeignKey("contract.contract_id"))
    deposited_at: Mapped[datetime] = mapped_column(DateTime)
    deposited_by: Mapped[str] = mapped_column(String(200))
    comment: Mapped[str | None] = mapped_column(Text)
    decision: Mapped[str | None] = mapped_column(String(10))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    decided_by: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)
    paid_at: Mapped[datetime | None] = mapped_column(DateTime)


class PriceLine(Base):
    __tablename__ = "price_line"
    __table_args__ = (
        ForeignKeyConstraint(["contract_id", "amendment_no"],
                             ["amendment.contract_id", "amendment.amendment_no"]),
    )
    contract_id: Mapped[str] = mapped_column(ForeignKey("contract.contract_id"), primary_key=True)
    line_no: Mapped[str] = mapped_column(String(20), primary_key=True)
    label: Mapped[str] = mapped_column(String(300))
    unit: Mapped[str | None] = mapped_column(String(10))
    quantity: Mapped[str | None] = mapped_column(String(30))
    unit_price_cents: Mapped[int | None] = mapped_column(BigInteger)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    may_exceed: Mapped[bool] = mapped_column(Boolean, default=False)
    amendment_no: Mapped[int | None] = mapped_column(Integer)
    subcontract_id: Mapped[str | None] = mapped_column(ForeignKey("subcontract.subcontract_id"))


class Situation(Base):
    __tablename__ = "situation"
    __table_args__ = (
        CheckConstraint("n >= 1", name="ck_situation_n"),
        CheckConstraint(MONTH_CHECK.format(col="month"), name="ck_situation_month"),
        UniqueConstraint("contract_id", "month", name="uq_situation_month"),
    )
    contract_id: Mapped[str] = mapped_column(ForeignKey("contract.contract_id"), primary_key=True)
    n: Mapped[int] = mapped_column(Integer, primary_key=True)
    month: Mapped[str] = mapped_column(String(7))
    status: Mapped[str] = mapped_column(String(20), default="draft")
    version: Mapped[int] = mapped_column(Integer, default=1)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime)
    verified_at: Mapped[datetime | None] = mapped_column(DateTime)
    moe_at: Mapped[datetime | None] = mapped_column(DateTime)
    amo_at: Mapped[datetime | None] = mapped_column(DateTime)
    moa_at: Mapped[datetime | None] = mapped_column(DateTime)
    paid_at: Mapped[datetime | None] = mapped_column(DateTime)
    interrupted_at: Mapped[datetime | None] = mapped_column(DateTime)
    resumed_at: Mapped[datetime | None] = mapped_column(DateTime)
    interruption_reason: Mapped[str | None] = mapped_column(Text)


class Progress(Base):
    __tablename__ = "progress"
    __table_args__ = (
        ForeignKeyConstraint(["contract_id", "n"], ["situation.contract_id", "situation.n"]),
        ForeignKeyConstraint(["contract_id", "line_no"],
                             ["price_line.contract_id", "price_line.line_no"]),
        CheckConstraint("pct_bp >= 0", name="ck_progress_pct"),
        # each line's entries in situation order: its latest % before a situation is one
        # seek, whatever the length of the history (entering progress, the demande)
        Index("ix_progress_line", "contract_id", "line_no", "n"),
    )
    contract_id: Mapped[str] = mapped_column(String(30), primary_key=True)
    n: Mapped[int] = mapped_column(Integer, primary_key=True)
    line_no: Mapped[str] = mapped_column(String(20), primary_key=True)
    pct_bp: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)


class Adjustment(Base):
    """Pénalité (by days of delay or fixed amount) or prime, recorded on a situation."""

    __tablename__ = "adjustment"
    __table_args__ = (
        ForeignKeyConstraint(["contract_id", "n"], ["situation.contract_id", "situation.n"]),
        CheckConstraint("kind IN ('penalty', 'bonus')", name="ck_adjustment_kind"),
        CheckConstraint("(days IS NULL) <> (amount_cents IS NULL)", name="ck_adjustment_basis"),
        CheckConstraint("days IS NULL OR days > 0", name="ck_adjustment_days"),
        CheckConstraint("kind = 'penalty' OR days IS NULL", name="ck_adjustment_bonus_amount"),
    )
    adjustment_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    contract_id: Mapped[str] = mapped_column(String(30))
    n: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(10))
    days: Mapped[int | None] = mapped_column(Integer)
    amount_cents: Mapped[int | None] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)


class Guarantee(Base):
    """Garantie à première demande or caution replacing the retenue de garantie."""

    __tablename__ = "guarantee"
    __table_args__ = (
        CheckConstraint("kind IN ('gapd', 'caution')", name="ck_guarantee_kind"),
        CheckConstraint("amount_cents > 0", name="ck_guarantee_amount"),
    )
    guarantee_id: Mapped[str] = mapped_column(String(30), primary_key=True)
    contract_id: Mapped[str] = mapped_column(ForeignKey("contract.contract_id"))
    kind: Mapped[str] = mapped_column(String(10))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    received_on: Mapped[date] = mapped_column(Date)
    issuer: Mapped[str] = mapped_column(String(200))
    # mainlevée given to the guarantor (R2191-42: one month at most after the délai de
    # garantie, or after the réserves' lifting)
    released_at: Mapped[datetime | None] = mapped_column(DateTime)
    released_by: Mapped[str | None] = mapped_column(String(200))


class PlannedProgress(Base):
    """The contract's planned cumulative progress per month (planning prévisionnel)."""

    __tablename__ = "planned_progress"
    __table_args__ = (
        CheckConstraint("pct_bp BETWEEN 0 AND 10000", name="ck_planned_pct"),
        CheckConstraint(MONTH_CHECK.format(col="month"), name="ck_planned_month"),
    )
    contract_id: Mapped[str] = mapped_column(ForeignKey("contract.contract_id"), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    pct_bp: Mapped[int] = mapped_column(Integer)


class PriceIndex(Base):
    __tablename__ = "price_index"
    __table_args__ = (
        CheckConstraint("value_e4 > 0", name="ck_index_value"),
        CheckConstraint(MONTH_CHECK.format(col="month"), name="ck_index_month"),
    )
    # one row per publication: a corrected value is a later publication of the same month
    index_code: Mapped[str] = mapped_column(String(20), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    value_e4: Mapped[int] = mapped_column(BigInteger)
    published_on: Mapped[date] = mapped_column(Date, primary_key=True)


class EcbRate(Base):
    __tablename__ = "ecb_rate"
    effective_on: Mapped[date] = mapped_column(Date, primary_key=True)
    rate_bp: Mapped[int] = mapped_column(Integer)


class PaymentStatement(Base):
    """The état d'acompte as validated by the MOA: the figures the payment was made on."""

    __tablename__ = "payment_statement"
    __table_args__ = (
        ForeignKeyConstraint(["contract_id", "n"], ["situation.contract_id", "situation.n"]),
    )
    contract_id: Mapped[str] = mapped_column(String(30), primary_key=True)
    n: Mapped[int] = mapped_column(Integer, primary_key=True)
    validated_at: Mapped[datetime] = mapped_column(DateTime)
    works_cum: Mapped[int] = mapped_column(BigInteger)
    revision_cum: Mapped[int] = mapped_column(BigInteger)
    bonus_cum: Mapped[int] = mapped_column(BigInteger)
    penalty_cum: Mapped[int] = mapped_column(BigInteger)
    total_ht_cum: Mapped[int] = mapped_column(BigInteger)
    vat_cum: Mapped[int] = mapped_column(BigInteger)
    total_ttc_cum: Mapped[int] = mapped_column(BigInteger)
    advance_repaid_cum: Mapped[int] = mapped_column(BigInteger)
    retention_cum: Mapped[int] = mapped_column(BigInteger)
    due_cum: Mapped[int] = mapped_column(BigInteger)
    direct_payment_cum: Mapped[int] = mapped_column(BigInteger)
    net_month: Mapped[int] = mapped_column(BigInteger)


class Rectification(Base):
    """The MOA's rectification of an état d'acompte at its validation: a signed TTC amount
    added to what the MOE's état makes due this month, with its justification. Acomptes
    being cumulative, it counts for this acompte only (gesprokit.ledger)."""

    __tablename__ = "rectification"
    __table_args__ = (
        ForeignKeyConstraint(["contract_id", "n"], ["situation.contract_id", "situation.n"]),
    )
    contract_id: Mapped[str] = mapped_column(String(30), primary_key=True)
    n: Mapped[int] = mapped_column(Integer, primary_key=True)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)


STATEMENT_COLUMNS = [c.name for c in PaymentStatement.__table__.columns
                     if c.name not in ("contract_id", "n", "validated_at")]


class Reception(Base):
    """The réception of a contract's works (CCAG-T art. 41): its date, its réserves and
    their lifting, and the délai de garantie (1 year by default, art. 44.1) with its
    extension."""

    __tablename__ = "reception"
    __table_args__ = (
        CheckConstraint("guarantee_until > received_on", name="ck_reception_guarantee"),
        CheckConstraint("reserves_cost_cents IS NULL OR reserves_cost_cents > 0",
                        name="ck_reception_reserves_cost"),
    )
    contract_id: Mapped[str] = mapped_column(ForeignKey("contract.contract_id"),
                                             primary_key=True)
    received_on: Mapped[date] = mapped_column(Date)
    reserves: Mapped[str | None] = mapped_column(Text)
    reserves_lifted_on: Mapped[date | None] = mapped_column(Date)
    # the estimated cost of the works that lift the réserves: the part of the retention kept
    # past the délai de garantie while they remain (None: the whole retention is kept)
    reserves_cost_cents: Mapped[int | None] = mapped_column(BigInteger)
    guarantee_until: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(DateTime)
    recorded_by: Mapped[str] = mapped_column(String(200))


class FinalAccountRecord(Base):
    """A contract's end: the titulaire's projet de décompte final, the MOE's décompte final
    and projet de décompte général, the MOA's signature, the titulaire's answer (or the tacit
    procedure), the payment of the solde and the refund of the retention. The figures the
    MOA signed are kept as signed (JSON of the décompte général's headings)."""

    __tablename__ = "final_account"
    contract_id: Mapped[str] = mapped_column(ForeignKey("contract.contract_id"),
                                             primary_key=True)
    month: Mapped[str] = mapped_column(String(7))
    claimed_at: Mapped[datetime] = mapped_column(DateTime)
    claimed_by: Mapped[str] = mapped_column(String(200))
    claim_figures: Mapped[str | None] = mapped_column(Text)
    settled_at: Mapped[datetime | None] = mapped_column(DateTime)
    settled_by: Mapped[str | None] = mapped_column(String(200))
    adjustments: Mapped[str | None] = mapped_column(Text)
    signed_at: Mapped[datetime | None] = mapped_column(DateTime)
    signed_by: Mapped[str | None] = mapped_column(String(200))
    figures: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime)
    answer: Mapped[str | None] = mapped_column(String(10))
    claim_text: Mapped[str | None] = mapped_column(Text)
    disputed_cents: Mapped[int | None] = mapped_column(BigInteger)
    tacit_at: Mapped[datetime | None] = mapped_column(DateTime)
    solde_paid_at: Mapped[datetime | None] = mapped_column(DateTime)
    retention_released_at: Mapped[datetime | None] = mapped_column(DateTime)
    kept_released_at: Mapped[datetime | None] = mapped_column(DateTime)  # part kept for réserves
    # the solde's definitive revision, notified once the last index is published (12.4.2)
    revision_notified_at: Mapped[datetime | None] = mapped_column(DateTime)
    revision_figures: Mapped[str | None] = mapped_column(Text)
    revision_paid_at: Mapped[datetime | None] = mapped_column(DateTime)


class FinalProgress(Base):
    """The final cumulative progress of a line: claimed by the titulaire, admitted by the
    MOE (with its reason when it differs)."""

    __tablename__ = "final_progress"
    contract_id: Mapped[str] = mapped_column(ForeignKey("final_account.contract_id"),
                                             primary_key=True)
    line_no: Mapped[str] = mapped_column(String(20), primary_key=True)
    claimed_bp: Mapped[int | None] = mapped_column(Integer)  # None: added by the MOE
    admitted_bp: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)


class Notification(Base):
    """An inbox item ('à traiter', 'relance', 'information') for one person, and its e-mail."""

    __tablename__ = "notification"
    __table_args__ = (
        CheckConstraint("kind IN ('todo', 'reminder', 'info')", name="ck_notification_kind"),
    )
    notification_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    recipient: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(10))
    contract_id: Mapped[str | None] = mapped_column(String(30))
    n: Mapped[int | None] = mapped_column(Integer)
    document_id: Mapped[str | None] = mapped_column(String(80))
    awaiting_status: Mapped[str | None] = mapped_column(String(20))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    reminded_at: Mapped[datetime | None] = mapped_column(DateTime)


class Folder(Base):
    """A folder of the document library."""

    __tablename__ = "folder"
    folder_code: Mapped[str] = mapped_column(String(30), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))


class FolderRight(Base):
    """Who may read or write a folder: a role, for one company or any ('*')."""

    __tablename__ = "folder_right"
    folder_code: Mapped[str] = mapped_column(ForeignKey("folder.folder_code"), primary_key=True)
    role: Mapped[str] = mapped_column(String(20), primary_key=True)
    company_code: Mapped[str] = mapped_column(String(20), primary_key=True, default="*")
    can_read: Mapped[bool] = mapped_column(Boolean)
    can_write: Mapped[bool] = mapped_column(Boolean)


class Document(Base):
    """A document of the library; its versions carry the revision index (A, B … Z, AA …)."""

    __tablename__ = "document"
    document_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    operation_code: Mapped[str] = mapped_column(ForeignKey("operation.code"))
    issuer_code: Mapped[str] = mapped_column(ForeignKey("company.code"))
    discipline: Mapped[str] = mapped_column(String(10))
    sequence: Mapped[int] = mapped_column(Integer)
    lot_code: Mapped[str | None] = mapped_column(String(10))
    folder_code: Mapped[str] = mapped_column(ForeignKey("folder.folder_code"))
    title: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(200))


class DocumentVersion(Base):
    __tablename__ = "document_version"
    document_id: Mapped[str] = mapped_column(ForeignKey("document.document_id"),
                                             primary_key=True)
    revision_index: Mapped[str] = mapped_column(String(4), primary_key=True)
    index_number: Mapped[int] = mapped_column(Integer)
    description: Mapped[str | None] = mapped_column(Text)
    file_name: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(ForeignKey("attachment.sha256"))
    format_exception: Mapped[str | None] = mapped_column(Text)
    deposited_at: Mapped[datetime] = mapped_column(DateTime)
    deposited_by: Mapped[str] = mapped_column(String(200))


class Visa(Base):
    """The visa expected from one reviewer on one version (VSO, VAO, REF, HM)."""

    __tablename__ = "visa"
    __table_args__ = (
        ForeignKeyConstraint(["document_id", "revision_index"],
                             ["document_version.document_id",
                              "document_version.revision_index"]),
        CheckConstraint("status IN ('pending', 'VSO', 'VAO', 'REF', 'HM', 'superseded')",
                        name="ck_visa_status"),
    )
    document_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    revision_index: Mapped[str] = mapped_column(String(4), primary_key=True)
    reviewer_role: Mapped[str] = mapped_column(String(20), primary_key=True)
    due_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    observations: Mapped[str | None] = mapped_column(Text)
    given_at: Mapped[datetime | None] = mapped_column(DateTime)
    given_by: Mapped[str | None] = mapped_column(String(200))


class Distribution(Base):
    """A meeting report sent to one recipient, and when they acknowledged it."""

    __tablename__ = "distribution"
    __table_args__ = (
        ForeignKeyConstraint(["document_id", "revision_index"],
                             ["document_version.document_id",
                              "document_version.revision_index"]),
    )
    document_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    revision_index: Mapped[str] = mapped_column(String(4), primary_key=True)
    recipient: Mapped[str] = mapped_column(String(200), primary_key=True)
    notified_at: Mapped[datetime] = mapped_column(DateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime)
    reminded_at: Mapped[datetime | None] = mapped_column(DateTime)


class Attachment(Base):
    """A file joined to an action (a PDF), stored once by its SHA-256."""

    __tablename__ = "attachment"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(BigInteger)
    content: Mapped[bytes] = mapped_column(LargeBinary)


class DocumentMessage(Base):
    """A message of a library document's thread (gesprokit.document_messages), in its
    author's name."""

    __tablename__ = "document_message"
    __table_args__ = (Index("ix_document_message_document", "document_id"),)
    message_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("document.document_id"))
    author: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(DateTime)
    body: Mapped[str] = mapped_column(Text)


class MoaMandate(Base):
    """A mandate of project ownership (mandat de maîtrise d'ouvrage, CCP L2422-5): the owner
    entrusts a company, on one operation and for a period, with some of its powers
    (gesprokit.mandates); that company's MOA accounts then act within them only."""

    __tablename__ = "moa_mandate"
    __table_args__ = (
        CheckConstraint("ends_on IS NULL OR ends_on >= starts_on", name="ck_mandate_period"),
        Index("ix_mandate_operation_company", "operation_code", "company_code"),
    )
    mandate_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    operation_code: Mapped[str] = mapped_column(ForeignKey("operation.code"))
    company_code: Mapped[str] = mapped_column(ForeignKey("company.code"))
    reference: Mapped[str] = mapped_column(String(100))
    powers: Mapped[str] = mapped_column(Text)  # JSON list of gesprokit.mandates.POWERS keys
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    granted_by: Mapped[str] = mapped_column(String(200))
    granted_at: Mapped[datetime] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)
    revoked_by: Mapped[str | None] = mapped_column(String(200))
    revoke_reason: Mapped[str | None] = mapped_column(Text)


class Message(Base):
    """A message of a situation's thread (gesprokit.messages), in its author's name."""

    __tablename__ = "message"
    __table_args__ = (
        ForeignKeyConstraint(["contract_id", "n"], ["situation.contract_id", "situation.n"]),
        Index("ix_message_situation", "contract_id", "n"),
    )
    message_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    contract_id: Mapped[str] = mapped_column(String(30))
    n: Mapped[int] = mapped_column(Integer)
    author: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(DateTime)
    body: Mapped[str] = mapped_column(Text)


class PendingDocument(Base):
    """A circuit PDF whose content an action committed (every figure written out, as JSON,
    its SHA-256 in the action's event) and whose layout runs after the commit: removed once
    the PDF is stored under its own event (gesprokit.workflow.produce_documents)."""

    __tablename__ = "pending_document"
    event_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    contract_id: Mapped[str] = mapped_column(String(30))
    n: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(Text)


class Event(Base):
    """Append-only audit log; each event holds the hash of the previous one."""

    __tablename__ = "event"
    # a situation's or a contract's own events, without reading the whole journal
    __table_args__ = (Index("ix_event_situation", "contract_id", "n"),)
    event_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime)
    actor: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(40))
    contract_id: Mapped[str | None] = mapped_column(String(30))
    n: Mapped[int | None] = mapped_column(Integer)
    before: Mapped[str | None] = mapped_column(Text)
    after: Mapped[str | None] = mapped_column(Text)
    comment: Mapped[str | None] = mapped_column(Text)
    attachments: Mapped[str | None] = mapped_column(Text)
    seal: Mapped[str | None] = mapped_column(Text)  # digests of the state it left (JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    mac: Mapped[str | None] = mapped_column(String(64))  # HMAC of `hash`, key outside the base


MOA_MODES = ("avec_moa", "exclusivement_moa", "sans_moa")


class ChorusStructure(Base):
    """A public structure in Chorus Pro (one per SIRET) and the parameters it sets for the
    works invoices it receives: its MOA mode and which references are compulsory."""

    __tablename__ = "chorus_structure"
    __table_args__ = (
        CheckConstraint("moa_mode IN ('avec_moa', 'exclusivement_moa', 'sans_moa')",
                        name="ck_structure_moa_mode"),
    )
    siret: Mapped[str] = mapped_column(String(14), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    moa_mode: Mapped[str] = mapped_column(String(20))
    service_required: Mapped[bool] = mapped_column(Boolean, default=False)
    engagement_required: Mapped[bool] = mapped_column(Boolean, default=False)
    service_or_engagement: Mapped[bool] = mapped_column(Boolean, default=False)


class ChorusService(Base):
    """A service (code service) of a Chorus Pro structure."""

    __tablename__ = "chorus_service"
    siret: Mapped[str] = mapped_column(ForeignKey("chorus_structure.siret"), primary_key=True)
    code: Mapped[str] = mapped_column(String(100), primary_key=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class BillingIdentity(Base):
    """The contract's "fiche d'identité du marché": who is MOA, MOE and paying service in
    Chorus Pro, with the code service and legal-commitment number invoices must carry."""

    __tablename__ = "billing_identity"
    contract_id: Mapped[str] = mapped_column(ForeignKey("contract.contract_id"),
                                             primary_key=True)
    market_number: Mapped[str] = mapped_column(String(50))
    moe_siret: Mapped[str] = mapped_column(String(14))
    moa_siret: Mapped[str] = mapped_column(ForeignKey("chorus_structure.siret"))
    payer_siret: Mapped[str] = mapped_column(ForeignKey("chorus_structure.siret"))
    service_code: Mapped[str | None] = mapped_column(String(100))
    engagement_number: Mapped[str | None] = mapped_column(String(50))


class ChorusPiece(Base):
    """A piece of a billing file deposited in Chorus Pro (A4, A15, A19, A7 …): its frame,
    number (unique per depositing structure), amounts, Chorus id and current status."""

    __tablename__ = "chorus_piece"
    __table_args__ = (UniqueConstraint("depositor_siret", "number", name="uq_piece_number"),)
    piece_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    contract_id: Mapped[str] = mapped_column(ForeignKey("contract.contract_id"))
    file_key: Mapped[str] = mapped_column(String(20))
    frame: Mapped[str] = mapped_column(String(3))
    number: Mapped[str] = mapped_column(String(20))
    depositor_siret: Mapped[str] = mapped_column(String(14))
    deposited_at: Mapped[datetime] = mapped_column(DateTime)
    deposited_by: Mapped[str] = mapped_column(String(200))
    chorus_id: Mapped[str] = mapped_column(String(40))
    amount_ht: Mapped[int] = mapped_column(BigInteger)
    amount_vat: Mapped[int] = mapped_column(BigInteger)
    amount_ttc: Mapped[int] = mapped_column(BigInteger)
    amount_to_pay: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(60))
    status_at: Mapped[datetime] = mapped_column(DateTime)
    attachments: Mapped[str | None] = mapped_column(Text)


class ChorusStatus(Base):
    """Every status a deposited piece went through, as Chorus Pro dated it."""

    __tablename__ = "chorus_status"
    piece_id: Mapped[int] = mapped_column(ForeignKey("chorus_piece.piece_id"), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, primary_key=True)
    status: Mapped[str] = mapped_column(String(60), primary_key=True)
    comment: Mapped[str | None] = mapped_column(Text)


TABLES_IN_LOAD_ORDER = [
    Operation, Company, User, Lot, Contract, RevisionTerm, Amendment, Subcontract,
    SubcontractRevisionTerm, PriceLine,
    Situation, Progress, Adjustment, Guarantee, PlannedProgress, PriceIndex, EcbRate,
    PaymentStatement, DirectPaymentRequest, ChorusStructure, ChorusService, BillingIdentity,
]
