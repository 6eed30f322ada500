"""scim2-tester, the SCIM compliance checker, against /scim/v2 in process: every check
passes, or is skipped because ServiceProviderConfig says the feature is not offered."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.handlers.wsgi import WSGIHandler
from scim2_client.engines.wsgi import WSGISCIMClient
from scim2_tester import Status, check_server

from tests.directory.conftest import SECRET
from welfare.people.models import UnitKind
from welfare.people.services import unit_create


class ForceWithUnits(WSGISCIMClient):
    """The checker makes up groups; in a force each group is a unit an administrator made
    first. This client makes the unit a group names just before the group is sent."""

    def create(self, resource: Any = None, *args: Any, **kwargs: Any) -> Any:
        if type(resource).__name__ == "Group" and resource.display_name:
            unit_create(actor=None, name=resource.display_name, kind=UnitKind.OTHER)
        return super().create(resource, *args, **kwargs)


@pytest.mark.django_db(transaction=True)
def test_scim_compliance_checker_finds_no_error(scim_on: None, settings: Any, clock: Any) -> None:
    settings.SCIM_GROUP_MATCH = "name"
    client = ForceWithUnits(
        WSGIHandler(),
        base_url="http://testserver/scim/v2",
        headers={"Authorization": f"Bearer {SECRET}"},
    )
    results = check_server(client)
    failed = [r for r in results if r.status in (Status.ERROR, Status.CRITICAL)]
    assert not failed, "\n".join(f"{r.resource_type} {r.title}: {r.reason}" for r in failed)
    passed = [r for r in results if r.status == Status.SUCCESS]
    skipped = {r.title for r in results if r.status == Status.SKIPPED}
    assert len(passed) > 30
    assert {r.resource_type for r in passed} >= {"User", "Group"}
    # Only the search across every resource type at once (POST /.search), answered 501.
    assert skipped == {"search_with_attributes"}, skipped
