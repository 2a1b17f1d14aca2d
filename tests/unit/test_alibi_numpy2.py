"""alibi-detect 0.13 declares numpy<2; we install it without that pin.

These tests prove that the detectors FraudLens uses work under numpy 2, and
that our multiple-testing correction is the one alibi-detect applies.
"""

from __future__ import annotations

from importlib.metadata import version

import numpy as np
import pytest

alibi_cd = pytest.importorskip("alibi_detect.cd")


def test_versions() -> None:
    assert int(np.__version__.split(".")[0]) >= 2
    assert version("alibi-detect") == "0.13.0"


@pytest.mark.parametrize("correction", ["bonferroni", "fdr"])
def test_ks_drift(correction: str) -> None:
    rng = np.random.default_rng(0)
    x_ref = rng.normal(size=(1000, 3)).astype(np.float32)
    same = rng.normal(size=(1000, 3)).astype(np.float32)
    moved = same + np.array([0.0, 0.4, 0.0], dtype=np.float32)
    detector = alibi_cd.KSDrift(x_ref, p_val=0.05, correction=correction)
    assert detector.predict(same)["data"]["is_drift"] == 0
    res = detector.predict(moved, drift_type="feature", return_distance=True)["data"]
    assert res["is_drift"][1] == 1 and int(np.argmin(res["p_val"])) == 1
    assert res["p_val"].dtype == np.float32 and res["p_val"][1] < 1e-10
    assert detector.predict(moved)["data"]["is_drift"] == 1


def test_chi_square_drift() -> None:
    rng = np.random.default_rng(1)
    x_ref = rng.integers(0, 4, size=(2000, 2))
    same = rng.integers(0, 4, size=(2000, 2))
    moved = np.column_stack([same[:, 0], rng.choice(4, 2000, p=[0.7, 0.1, 0.1, 0.1])])
    detector = alibi_cd.ChiSquareDrift(x_ref, p_val=0.05)
    assert detector.predict(same)["data"]["is_drift"] == 0
    res = detector.predict(moved, drift_type="feature")["data"]
    assert res["is_drift"][1] == 1 and res["p_val"][1] < 1e-10 < res["p_val"][0]


def test_mmd_drift_pytorch_backend() -> None:
    import torch

    torch.manual_seed(0)
    rng = np.random.default_rng(2)
    x_ref = rng.normal(size=(150, 5)).astype(np.float32)
    detector = alibi_cd.MMDDrift(x_ref, backend="pytorch", p_val=0.05, n_permutations=50)
    same = detector.predict(rng.normal(size=(150, 5)).astype(np.float32))["data"]
    moved = detector.predict(rng.normal(0.6, 1.0, size=(150, 5)).astype(np.float32))["data"]
    assert same["is_drift"] == 0 and moved["is_drift"] == 1
    assert detector.meta["backend"] == "pytorch"


def test_cvm_drift_online() -> None:
    rng = np.random.default_rng(3)
    detector = alibi_cd.CVMDriftOnline(
        rng.normal(size=100), ert=200, window_sizes=[20], n_bootstraps=2000, verbose=False
    )
    detected_at = None
    for value in rng.normal(2.0, 1.0, size=200):
        res = detector.predict(np.array([value]))["data"]
        if res["is_drift"]:
            detected_at = res["time"]
            break
    assert detected_at is not None and detected_at <= 40
    detector.reset_state()
    assert detector.t == 0


def test_our_fdr_matches_alibi() -> None:
    from alibi_detect.utils.statstest import fdr

    from drift.stats import correct

    rng = np.random.default_rng(4)
    for _ in range(50):
        p = rng.uniform(0, 0.1, size=12) ** 2
        theirs, threshold = fdr(p, q_val=0.05)
        rejected, ours = correct(p, 0.05, "fdr")
        assert bool(theirs) == bool(rejected.any())
        if theirs:
            assert ours == pytest.approx(float(threshold))
