import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parents[1]

settings.register_profile("ci", max_examples=60, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("thorough", max_examples=1000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def contract_sets(tmp_path_factory):
    """The golden sets of the numeric-contract options (vectors/): wrap-acc32 as
    checked in under golden/, truncate and half-even-per-channel built once."""
    from refimpl import vectors

    out = {"wrap-acc32": ROOT / "golden" / "wrap-acc32"}
    for name in ("truncate", "half-even-per-channel"):
        out[name] = tmp_path_factory.mktemp("contract") / name
        vectors.build_set(vectors.load_set(name), out[name])
    return out
