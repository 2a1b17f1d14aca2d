"""Container health check (Docker HEALTHCHECK): exit 0 when healthy, 1 when not.

``FRAUDLENS_HEALTHCHECK_URL`` is an HTTP URL that must answer 2xx (the Serve
proxy's ``/-/healthz`` by default, a stream job's ``/metrics``), or ``import``
to check only that the FraudLens package loads. Standard library only.
"""

from __future__ import annotations

import importlib
import os
import sys
import urllib.error
import urllib.request


def main() -> int:
    """Run the check named by ``FRAUDLENS_HEALTHCHECK_URL``; return the exit code."""
    target = os.environ.get("FRAUDLENS_HEALTHCHECK_URL", "import")
    if target == "import":
        try:
            importlib.import_module("fraudlens")
        except ImportError as exc:
            print(f"unhealthy: {exc}", file=sys.stderr)
            return 1
        return 0
    try:
        with urllib.request.urlopen(target, timeout=4) as response:
            return 0 if 200 <= response.status < 300 else 1
    except (urllib.error.URLError, OSError) as exc:
        print(f"unhealthy: {target}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
