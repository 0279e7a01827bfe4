"""What the library dashboards show: documents, visa queue, reviewers' turnaround."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlalchemy import Engine

from gesprokit import schema
from gesprokit.library.actions import rights
from gesprokit.store import read_table
from gesprokit.workflow import Actor


def documents(engine: Engine, actor: Actor) -> pd.DataFrame:
    """Each document the actor may read, with its last index and deposit date."""
    docs = read_table(engine, schema.Document.__table__)
    if actor.operations is not None:
        docs = docs[docs["operation_code"].isin(actor.operations)]
    versions = read_table(engine, schema.DocumentVersion.__table__)
    with engine.connect() as conn:
        readable = {f for f in docs["folder_code"].unique() if rights(conn, actor, f)[0]}
    last = versions.sort_values("index_number").groupby("document_id").tail(1)
    out = docs[docs["folder_code"].isin(readable)].merge(
        last[["document_id", "revision_index", "deposited_at", "deposited_by"]],
        on="document_id")
    return out.sort_values("document_id").reset_index(drop=True)


def visa_queue(engine: Engine, as_of: datetime) -> pd.DataFrame:
    """Visas awaited, with their due date and days late at `as_of`."""
    visas = read_table(engine, schema.Visa.__table__)
    docs = read_table(engine, schema.Document.__table__)[["document_id", "title", "issuer_code"]]
    pending = visas[visas["status"] == "pending"].merge(docs, on="document_id")
    late = (pd.Timestamp(as_of).normalize() - pending["due_on"]).dt.days
    pending = pending.assign(days_late=late.clip(lower=0).astype("int64"))
    return pending[["document_id", "title", "issuer_code", "revision_index", "reviewer_role",
                    "due_on", "days_late"]].sort_values(["due_on", "document_id"]
                                                        ).reset_index(drop=True)


def visa_turnaround(engine: Engine, operations=None) -> pd.DataFrame:
    """Per reviewer: visas given, median days from deposit to visa, visas given late (on the
    documents of `operations` only, when given)."""
    visas = read_table(engine, schema.Visa.__table__)
    if operations is not None:
        docs = read_table(engine, schema.Document.__table__)
        visas = visas[visas["document_id"].isin(
            docs.loc[docs["operation_code"].isin(operations), "document_id"])]
    versions = read_table(engine, schema.DocumentVersion.__table__)
    given = visas[visas["given_at"].notna()].merge(
        versions[["document_id", "revision_index", "deposited_at"]],
        on=["document_id", "revision_index"])
    given = given.assign(days=(given["given_at"] - given["deposited_at"]).dt.days,
                         late=given["given_at"].dt.normalize() > given["due_on"])
    return given.groupby("reviewer_role").agg(
        visas=("days", "size"), median_days=("days", "median"), late=("late", "sum")
    ).reset_index()


def indices_before_vso(engine: Engine) -> pd.DataFrame:
    """Per document: how many indices it took to get a VSO from every reviewer (None: not
    yet)."""
    visas = read_table(engine, schema.Visa.__table__)
    versions = read_table(engine, schema.DocumentVersion.__table__)
    if visas.empty:
        return pd.DataFrame(columns=["document_id", "indices"])
    ok = visas.assign(ok=visas["status"].isin(["VSO", "HM"])).groupby(
        ["document_id", "revision_index"])["ok"].all().reset_index()
    ok = ok.merge(versions[["document_id", "revision_index", "index_number"]],
                  on=["document_id", "revision_index"])
    first_ok = ok[ok["ok"]].groupby("document_id")["index_number"].min()
    counts = versions.groupby("document_id")["index_number"].apply(
        lambda s: s.tolist())
    rows = []
    for doc in ok["document_id"].unique():
        if doc in first_ok:
            rows.append((doc, sum(1 for i in counts[doc] if i <= first_ok[doc])))
        else:
            rows.append((doc, None))
    return pd.DataFrame(rows, columns=["document_id", "indices"])
