"""Entry point of a retraining Ray job: ``python -m drift.job --start D --end D --job-id ID``.

Settings come from the ``FRAUDLENS_*`` variables the launcher passed in the
job's runtime environment; the result is written into the records database
(``retrain_jobs``), where ``RayJobLauncher`` polls for it.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date

from drift.launchers import retrain_and_promote, store_result
from fraudlens.records.engine import engine_from_settings
from fraudlens.settings import Settings


def main(argv: list[str] | None = None) -> int:
    """Retrain, run the gate, store the result in ``retrain_jobs``; exit 1 if the job failed."""
    parser = argparse.ArgumentParser(description="FraudLens retraining job")
    parser.add_argument("--start", type=date.fromisoformat, required=True, help="first day")
    parser.add_argument("--end", type=date.fromisoformat, required=True, help="end (exclusive)")
    parser.add_argument("--job-id", required=True, help="submission id (its retrain_jobs row)")
    args = parser.parse_args(argv)
    settings = Settings()
    result = retrain_and_promote(settings, args.start, args.end)
    engine = engine_from_settings(settings, pool_size=0)
    try:
        store_result(engine, args.job_id, result)
    finally:
        engine.dispose()
    return 0 if result.outcome != "failed" else 1


if __name__ == "__main__":
    sys.exit(main())
