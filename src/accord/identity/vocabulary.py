"""The closed vocabularies of identity: party kinds, user roles, token scopes, and what each role may do."""

from __future__ import annotations

from enum import StrEnum


class PartyKind(StrEnum):
    """The organisations the Convention expects to cooperate (Arts. 41 (24/7 network), 40 (MLA), 25-27 (providers))."""

    LAW_ENFORCEMENT = "law_enforcement"
    CENTRAL_AUTHORITY = "central_authority"
    POINT_OF_CONTACT = "point_of_contact"
    CERT = "cert"
    SERVICE_PROVIDER = "service_provider"
    BANK = "bank"
    VIRTUAL_ASSET_PROVIDER = "virtual_asset_provider"
    TELECOM = "telecom"
    INTERNATIONAL_ORG = "international_org"


class Role(StrEnum):
    ADMIN = "admin"
    ANALYST = "analyst"
    POINT_OF_CONTACT = "point_of_contact"
    CENTRAL_AUTHORITY = "central_authority"
    PARTNER = "partner"
    AUDITOR = "auditor"


class Scope(StrEnum):
    """What an API token may do, whatever its user's roles allow (a token never exceeds its user)."""

    READ = "read"
    WRITE = "write"
    ADMIN = "admin"


class Permission(StrEnum):
    MANAGE_PARTIES = "manage_parties"
    MANAGE_USERS = "manage_users"
    VIEW_DIRECTORY = "view_directory"
    READ_AUDIT = "read_audit"
    VERIFY_AUDIT = "verify_audit"
    READ_INTEL = "read_intel"
    SUBMIT_INTEL = "submit_intel"
    DRAFT_COOPERATION = "draft_cooperation"
    RESPOND_COOPERATION = "respond_cooperation"
    APPROVE_COOPERATION = "approve_cooperation"
    READ_EVIDENCE = "read_evidence"
    HANDLE_EVIDENCE = "handle_evidence"


# Auditors read the audit log but change nothing; admins run the node. Later domains add their permissions here.
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.ANALYST: frozenset(
        {
            Permission.VIEW_DIRECTORY,
            Permission.READ_INTEL,
            Permission.SUBMIT_INTEL,
            Permission.DRAFT_COOPERATION,
            Permission.READ_EVIDENCE,
            Permission.HANDLE_EVIDENCE,
        }
    ),
    Role.POINT_OF_CONTACT: frozenset(
        {
            Permission.VIEW_DIRECTORY,
            Permission.READ_INTEL,
            Permission.SUBMIT_INTEL,
            Permission.DRAFT_COOPERATION,
            Permission.RESPOND_COOPERATION,
            Permission.READ_EVIDENCE,
            Permission.HANDLE_EVIDENCE,
        }
    ),
    Role.CENTRAL_AUTHORITY: frozenset(
        {
            Permission.VIEW_DIRECTORY,
            Permission.READ_INTEL,
            Permission.DRAFT_COOPERATION,
            Permission.RESPOND_COOPERATION,
            Permission.APPROVE_COOPERATION,
            Permission.READ_EVIDENCE,
            Permission.HANDLE_EVIDENCE,
        }
    ),
    # Banks, exchanges and telecoms report what they see and read what markings let them (TLP:CLEAR/GREEN);
    # formal cooperation is between authorities, so they draft no cooperation requests.
    Role.PARTNER: frozenset({Permission.READ_INTEL, Permission.SUBMIT_INTEL}),
    Role.AUDITOR: frozenset({Permission.VIEW_DIRECTORY, Permission.READ_AUDIT, Permission.VERIFY_AUDIT}),
}

# The scope a token needs for a permission; reading needs "read", changing needs "admin".
PERMISSION_SCOPE: dict[Permission, Scope] = {
    Permission.MANAGE_PARTIES: Scope.ADMIN,
    Permission.MANAGE_USERS: Scope.ADMIN,
    Permission.VIEW_DIRECTORY: Scope.READ,
    Permission.READ_AUDIT: Scope.READ,
    Permission.VERIFY_AUDIT: Scope.READ,
    Permission.READ_INTEL: Scope.READ,
    Permission.SUBMIT_INTEL: Scope.WRITE,
    Permission.DRAFT_COOPERATION: Scope.WRITE,
    Permission.RESPOND_COOPERATION: Scope.WRITE,
    Permission.APPROVE_COOPERATION: Scope.WRITE,
    Permission.READ_EVIDENCE: Scope.READ,
    Permission.HANDLE_EVIDENCE: Scope.WRITE,
}
