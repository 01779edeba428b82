"""The ``rfos`` command line: one module per verb, registered with :func:`expose_verb`."""

from __future__ import annotations

from robotfleet_nodes.cli._verb import Verb, expose_verb, verbs

__all__ = ["Verb", "expose_verb", "verbs"]
