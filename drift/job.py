"""Entry point of a retraining Ray job: ``python -m drift.job --start D --end D --job-id ID``.

Settings come from the ``FRAUDLENS_*`` variables the launcher passed in the
job's runtime environment; the result is written where ``RayJobLauncher``
polls for it.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from datetime import date

from drift.launchers import result_path, retrain_and_promote
from fraudlens.settings import Settings


def main(argv: list[str] | None = None) -> int:
    """Retrain, run the gate, write the result as JSON; exit 1 if the job failed."""
    parser = argparse.ArgumentParser(description="FraudLens retraining job")
    parser.add_argument("--start", type=date.fromisoformat, required=True, help="first day")
    parser.add_argument("--end", type=date.fromisoformat, required=True, help="end (exclusive)")
    parser.add_argument("--job-id", required=True, help="submission id (names the result file)")
    args = parser.parse_args(argv)
    settings = Settings()
    result = retrain_and_promote(settings, args.start, args.end)
    path = result_path(settings, args.job_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(result)))
    return 0 if result.outcome != "failed" else 1


if __name__ == "__main__":
    sys.exit(main())
