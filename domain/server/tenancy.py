"""Tenants and projects.

Server mode has one seeded tenant (``default``) that clients find with ``tenant { id }``;
more can be created. Project names are unique per tenant, and Prefect's clients rely on the
exact ``Uniqueness violation.`` answer to a duplicate.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from dockyard.domain.server.context import Dependencies
from dockyard.domain.server.errors import InvalidInput, NotFound, UniqueViolation
from dockyard.domain.server.filters import all_of, eq
from dockyard.domain.server.lookup import default_tenant, first, require
from dockyard.domain.server.removal import delete_flows

if TYPE_CHECKING:
    from dockyard.ports.run_store import StoreSession

_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


class Tenancy:
    def __init__(self, deps: Dependencies) -> None:
        self._deps = deps

    def ensure_default_tenant(self) -> str:
        """The default tenant's id, creating ``default`` when there is no tenant at all."""
        with self._deps.store.unit_of_work(write=True) as session:
            tenant = default_tenant(session)
            if tenant is not None:
                return str(tenant["id"])
            return self._insert_tenant(session, "default", "default")

    def create_tenant(self, name: str, slug: str) -> str:
        if not name.strip():
            raise InvalidInput("Tenant name must not be empty.")
        if not _SLUG.match(slug):
            raise InvalidInput(f"Invalid tenant slug {slug!r}: use lowercase letters, digits and hyphens.")
        with self._deps.store.unit_of_work(write=True) as session:
            if first(session, "tenant", eq("slug", slug)) is not None:
                raise UniqueViolation()
            return self._insert_tenant(session, name, slug)

    def _insert_tenant(self, session: StoreSession, name: str, slug: str) -> str:
        tenant_id, now = self._deps.new_id(), self._deps.now()
        session.insert(
            "tenant",
            {"id": tenant_id, "name": name, "slug": slug, "settings": {}, "created": now, "updated": now},
        )
        return tenant_id

    def tenant_or_default(self, session: StoreSession, tenant_id: str | None) -> str:
        if tenant_id is None:
            tenant = default_tenant(session)
            if tenant is None:
                raise NotFound("This server has no tenants.")
            return str(tenant["id"])
        require(session, "tenant", tenant_id, f"Invalid tenant ID: {tenant_id}")
        return tenant_id

    def create_project(self, tenant_id: str | None, name: str, description: str | None) -> str:
        if not name.strip():
            raise InvalidInput("Project name must not be empty.")
        with self._deps.store.unit_of_work(write=True) as session:
            tenant_id = self.tenant_or_default(session, tenant_id)
            if first(session, "project", all_of(eq("tenant_id", tenant_id), eq("name", name))) is not None:
                raise UniqueViolation()
            project_id, now = self._deps.new_id(), self._deps.now()
            session.insert(
                "project",
                {
                    "id": project_id,
                    "tenant_id": tenant_id,
                    "name": name,
                    "description": description,
                    "created": now,
                    "updated": now,
                },
            )
            return project_id

    def delete_project(self, project_id: str) -> None:
        """Remove a project with its flows, their runs, states, logs and tasks."""
        with self._deps.store.unit_of_work(write=True) as session:
            require(session, "project", project_id, f"Project {project_id} not found.")
            delete_flows(session, eq("project_id", project_id))
            session.delete("project", eq("id", project_id))
