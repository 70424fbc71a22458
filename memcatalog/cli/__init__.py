"""The command-line tools: ``memcatalog`` and its commands, the shell, the demo, stress.

Nothing in the library imports this package; it depends on the library, never the other
way round. Terminal output (rich) lives here only.
"""

from memcatalog.cli.main import main

__all__ = ["main"]
