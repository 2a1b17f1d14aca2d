"""The analyst workspace: review queue, cases, verdicts that become labels (issue #14).

Cases are opened by the records sink (``fraudlens.records.cases.open_cases``)
for every decision in ``workspace.case_decisions`` (reviews and declines
by default); this package reads and works them:
``queue`` (filters, sorting, a case's facts and history), ``actions``
(verdicts, escalation, notes, bulk close: case events, labels, audit),
``sessions`` (sign-in sessions in PostgreSQL), ``overview`` and ``metrics``
(figures read from PostgreSQL), and ``web`` (the pages, mounted by the
scoring API under ``/workspace``).
"""

from __future__ import annotations

from fraudlens.workspace.actions import ACTIONS, VERDICTS, CaseDesk
from fraudlens.workspace.queue import QueueFilter, get_case, list_queue

__all__ = ["ACTIONS", "VERDICTS", "CaseDesk", "QueueFilter", "get_case", "list_queue"]
