"""The workspace in the browser: pages, forms and their security."""

from __future__ import annotations

from fraudlens.workspace.web.context import WorkspaceContext, workspace_context
from fraudlens.workspace.web.pages import mount_workspace, workspace_router
from fraudlens.workspace.web.security import WorkspaceHeaders

__all__ = [
    "WorkspaceContext",
    "WorkspaceHeaders",
    "mount_workspace",
    "workspace_context",
    "workspace_router",
]
