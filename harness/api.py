"""The plugin surface under its earlier name, kept so plugins written against it still load.

New code imports the same names from :mod:`harness` (records, component bases,
``hookimpl``, errors), helpers from :mod:`harness.helpers`, and the model-scoring
helpers from :mod:`harness.scoring`. Every name this module ever offered resolves
here to that same object.
"""

from __future__ import annotations

from typing import Any

# The same objects as the plugin surface itself, not a second list of them to keep in step.
from harness import *  # noqa: F403
from harness import __all__  # noqa: F401,E402


def __getattr__(name: str) -> Any:
    # The helpers were served from this module on first use; they now live in modules
    # of their own, looked up here only for plugins that still ask this one.
    import harness.helpers

    if name in harness.helpers.__all__:
        return getattr(harness.helpers, name)
    import harness.scoring

    if name in harness.scoring.__all__:
        return getattr(harness.scoring, name)
    raise AttributeError(f"module 'harness.api' has no attribute {name!r}")
