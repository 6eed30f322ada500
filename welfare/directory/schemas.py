"""What /scim/v2 publishes about itself (RFC 7643 §5-7): only the attributes it keeps, with
the mutability it enforces, so a client (and the compliance checker) tests what is offered.

externalId is the person's (or group's) id in the directory: required when the directory
creates a resource and immutable afterwards (re-pointing an account at another person would
hand that person the account). Bulk, sort, ETags and password changes are not offered.
"""

from __future__ import annotations

from typing import Any

from welfare.directory.rules import ENTERPRISE_SCHEMA, GROUP_SCHEMA, USER_SCHEMA

SCHEMA_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema"
RESOURCE_TYPE_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SPC_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"


def _attribute(
    name: str,
    *,
    kind: str = "string",
    required: bool = False,
    mutability: str = "readWrite",
    multi: bool = False,
    unique: str = "none",
    case_exact: bool = False,
    description: str = "",
    sub: list[dict[str, Any]] | None = None,
    canonical: list[str] | None = None,
    references: list[str] | None = None,
) -> dict[str, Any]:
    attribute: dict[str, Any] = {
        "name": name,
        "type": kind,
        "multiValued": multi,
        "description": description,
        "required": required,
        "caseExact": case_exact,
        "mutability": mutability,
        "returned": "default",
        "uniqueness": unique,
    }
    if sub is not None:
        attribute["subAttributes"] = sub
    if canonical is not None:
        attribute["canonicalValues"] = canonical
    if references is not None:
        attribute["referenceTypes"] = references
    return attribute


def _external_id(what: str) -> dict[str, Any]:
    return _attribute(
        "externalId",
        required=True,
        mutability="immutable",
        unique="server",
        case_exact=True,
        description=f"The {what}'s stable id in the directory (Entra ID's objectId).",
    )


USER: dict[str, Any] = {
    "schemas": [SCHEMA_SCHEMA],
    "id": USER_SCHEMA,
    "name": "User",
    "description": "A person's account.",
    "attributes": [
        _attribute(
            "userName",
            required=True,
            unique="server",
            description="The name the person signs in with.",
        ),
        _external_id("person"),
        _attribute(
            "displayName",
            required=True,
            description="The officer's name as colleagues see it.",
        ),
        _attribute(
            "emails",
            kind="complex",
            multi=True,
            description="The work e-mail address (one is kept: the primary one sent).",
            sub=[
                _attribute("value", description="The address."),
                _attribute("type", canonical=["work"], description="Always work."),
            ],
        ),
        _attribute(
            "active",
            kind="boolean",
            required=True,
            description="false deactivates the account (every session ends); never deleted.",
        ),
    ],
    "meta": {"resourceType": "Schema", "location": f"/Schemas/{USER_SCHEMA}"},
}

ENTERPRISE_USER: dict[str, Any] = {
    "schemas": [SCHEMA_SCHEMA],
    "id": ENTERPRISE_SCHEMA,
    "name": "EnterpriseUser",
    "description": "The staff number.",
    "attributes": [
        _attribute(
            "employeeNumber",
            required=True,
            unique="server",
            description="The officer's staff number (required for officers).",
        ),
    ],
    "meta": {"resourceType": "Schema", "location": f"/Schemas/{ENTERPRISE_SCHEMA}"},
}

GROUP: dict[str, Any] = {
    "schemas": [SCHEMA_SCHEMA],
    "id": GROUP_SCHEMA,
    "name": "Group",
    "description": "A unit: its members are the people posted there.",
    "attributes": [
        _attribute("displayName", required=True, description="The unit's name."),
        _external_id("group"),
        _attribute(
            "members",
            kind="complex",
            multi=True,
            description="The directory's people posted to the unit.",
            sub=[
                _attribute("value", mutability="immutable", description="The user's id."),
                _attribute(
                    "$ref",
                    kind="reference",
                    mutability="immutable",
                    references=["User"],
                    description="The user's location.",
                ),
                _attribute("type", mutability="immutable", canonical=["User"], description="User."),
            ],
        ),
    ],
    "meta": {"resourceType": "Schema", "location": f"/Schemas/{GROUP_SCHEMA}"},
}

ALL_SCHEMAS: dict[str, dict[str, Any]] = {
    USER_SCHEMA: USER,
    ENTERPRISE_SCHEMA: ENTERPRISE_USER,
    GROUP_SCHEMA: GROUP,
}

RESOURCE_TYPES: dict[str, dict[str, Any]] = {
    "User": {
        "schemas": [RESOURCE_TYPE_SCHEMA],
        "id": "User",
        "name": "User",
        "endpoint": "/Users",
        "description": "People's accounts.",
        "schema": USER_SCHEMA,
        "schemaExtensions": [{"schema": ENTERPRISE_SCHEMA, "required": True}],
        "meta": {"resourceType": "ResourceType", "location": "/ResourceTypes/User"},
    },
    "Group": {
        "schemas": [RESOURCE_TYPE_SCHEMA],
        "id": "Group",
        "name": "Group",
        "endpoint": "/Groups",
        "description": "Units.",
        "schema": GROUP_SCHEMA,
        "schemaExtensions": [],
        "meta": {"resourceType": "ResourceType", "location": "/ResourceTypes/Group"},
    },
}


def service_provider_config(*, max_results: int, documentation: str) -> dict[str, Any]:
    return {
        "schemas": [SPC_SCHEMA],
        "documentationUri": documentation,
        "patch": {"supported": True},
        "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": True, "maxResults": max_results},
        "changePassword": {"supported": False},
        "sort": {"supported": False},
        "etag": {"supported": False},
        "authenticationSchemes": [
            {
                "type": "oauthbearertoken",
                "name": "Bearer token",
                "description": "The secret configured as SCIM_BEARER_TOKEN.",
                "primary": True,
            }
        ],
        "meta": {"resourceType": "ServiceProviderConfig", "location": "/ServiceProviderConfig"},
    }
