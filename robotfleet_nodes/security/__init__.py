"""Security: identities, credentials and API tokens (docs/fleet.md, "Security").

Import the modules themselves (``robotfleet_nodes.security.tokens``); nothing is re-exported here.
"""

__all__: list[str] = []
