"""Small runnable examples: talker/listener, a service, an action (see README)."""
