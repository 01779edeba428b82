"""Small runnable examples: talker/listener, a service, an action (see README).

Each module is an entry point (``python -m robotfleet_nodes.examples.talker``); the
package itself exports nothing.
"""

__all__: list[str] = []
