"""The controller's rate estimate: what it has learnt from the frames it has sent.

Each frame that has finished on the air gives one sample, ``bits / time on
air`` (Mbps): the edge knows both (its bitstream size and the time from the
first bit to the acknowledgement of the last).  The estimate is the harmonic
mean of the last ``window`` samples (default 3), the throughput predictor of
MPC video streaming (Yin et al., SIGCOMM 2015, who use the last 5 chunks):
one slow frame pulls it down at once (a harmonic mean is dominated by its
smallest terms), a rise must show in several frames.  Harmonic, not
arithmetic, because the quantity that adds up is time per bit: the mean of
the samples' seconds per bit is exactly the time per bit of sending each of
them once.  Before the first sample the estimate is the prior: the PHY rate
the radio reports when it associates (the trace's rate at time 0; a radio
knows the mode it joined at, not what the channel will do next).
"""
from __future__ import annotations

DEFAULT_WINDOW = 3


def harmonic_estimate(samples_mbps, window: int, prior_mbps: float) -> float:
    """Harmonic mean (Mbps) of the last ``window`` samples, ``prior_mbps`` when there are none."""
    last = list(samples_mbps)[-window:] if window > 0 else []
    if not last:
        return prior_mbps
    return len(last) / sum(1.0 / s for s in last)
