"""The system of record's fixtures (``postgres_url``, ``records_url``, ``records_engine``)
live in ``tests/integration/conftest.py``, shared with the workspace tests."""
