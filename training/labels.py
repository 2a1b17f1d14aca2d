"""Labels for training: the latest label of a transaction wins.

A transaction may be labelled more than once: a chargeback, then an analyst's
correction in the workspace (re-labelling is allowed and audited in the
records database). Its verdict is that of its newest label (greatest
``label_time``; at equal times the one that came later in the input). Its
``label_time`` is when that verdict became known: the first label of the
unbroken run of equal verdicts that ends with the newest one. So fraud, then
fraud again keeps the first fraud's time (the fraud was known from then),
and fraud, then legitimate gives the correction's time.
"""

from __future__ import annotations

import pandas as pd

from fraudlens.settings import Settings

VERDICT_COLUMNS = ("transaction_id", "is_fraud", "label_time")


def latest_verdicts(labels: pd.DataFrame) -> pd.DataFrame:
    """One row per labelled transaction: its newest verdict and when it became known.

    Args:
        labels: ``transaction_id``, ``is_fraud``, ``label_time`` (rows without a
            label time are ignored); at equal times a later row is newer.

    Returns:
        ``transaction_id``, ``is_fraud`` (bool), ``label_time`` (UTC), one row
        per transaction, in no particular order.
    """
    rows = labels.loc[labels["label_time"].notna(), list(VERDICT_COLUMNS)].copy()
    rows["label_time"] = pd.to_datetime(rows["label_time"], utc=True)
    rows["is_fraud"] = rows["is_fraud"].astype(bool)
    rows["_arrival"] = range(len(rows))
    rows = rows.sort_values(["transaction_id", "label_time", "_arrival"], kind="stable")
    by_tx = rows.groupby("transaction_id", sort=False)
    changed = rows["is_fraud"] != by_tx["is_fraud"].shift()
    rows["label_time"] = rows["label_time"].where(changed).groupby(rows["transaction_id"]).ffill()
    newest = rows.groupby("transaction_id", sort=False).tail(1)
    return newest[list(VERDICT_COLUMNS)].reset_index(drop=True)


def records_labels(settings: Settings) -> pd.DataFrame | None:
    """Every label of the records database, oldest first; ``None`` when none is configured.

    A records database is configured when ``records.database_url`` is set or
    the embedded server's data folder exists (the workspace or the records
    sink has used it); no embedded server is started just to look.

    Raises:
        RecordsError: the database cannot be reached or is behind.
    """
    embedded = settings.records.resolved_embedded_dir(settings.data_dir)
    if settings.records.database_url is None and not embedded.is_dir():
        return None
    from sqlalchemy import select
    from sqlalchemy.exc import SQLAlchemyError

    from fraudlens.errors import RecordsError
    from fraudlens.records.engine import db_error, records_engine
    from fraudlens.records.tables import labels

    stmt = select(*(labels.c[name] for name in VERDICT_COLUMNS)).order_by(
        labels.c.label_time, labels.c.label_id
    )
    with records_engine(settings, pool_size=0) as engine:
        try:
            with engine.connect() as conn:
                rows = conn.execute(stmt).mappings().all()
        except SQLAlchemyError as exc:
            raise RecordsError(f"cannot read the labels: {db_error(exc)}") from exc
    frame = pd.DataFrame([dict(r) for r in rows], columns=list(VERDICT_COLUMNS))
    frame["label_time"] = pd.to_datetime(frame["label_time"], utc=True)
    return frame
