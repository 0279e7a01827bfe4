"""Rules of a contract's own dates that both the workflow and the importer apply."""

from __future__ import annotations

from datetime import date

from gesprokit.months import month_end


def before_amendment_problem(amendment_no: int, signed_on: date, month: str, pct_bp: int
                             ) -> str | None:
    """An amendment takes effect when signed: progress on its lines in a situation whose
    month ends before the signature is refused (French reason), else None."""
    if pct_bp <= 0 or month_end(month) >= signed_on:
        return None
    return (f"ligne de l'avenant n°{amendment_no}, signé le {signed_on:%d/%m/%Y} : pas "
            f"d'avancement avant sa signature (situation de {month[5:]}/{month[:4]})")
