"""Security: identities, credentials and API tokens (docs/fleet.md, "Security")."""
