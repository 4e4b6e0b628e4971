"""Where the plugin tests leave the durations they measured, for the run's summary."""

from __future__ import annotations

import pytest

#: label of an inner run -> its wall-clock seconds.
DURATIONS = pytest.StashKey[dict[str, float]]()
