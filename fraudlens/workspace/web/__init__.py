"""The workspace in the browser: pages, forms and their security."""

from __future__ import annotations

from fraudlens.workspace.web.pages import WorkspaceContext, workspace_context, workspace_router
from fraudlens.workspace.web.security import WorkspaceHeaders

__all__ = ["WorkspaceContext", "WorkspaceHeaders", "workspace_context", "workspace_router"]
