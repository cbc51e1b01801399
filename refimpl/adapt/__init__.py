"""Adaptive partitioning (issue 16): move the partition layer and the QF with the channel.

One module a step: ``traces`` (channel rate over time), ``points`` (the
operating-point table), ``estimator`` (the rate the controller believes),
``controller`` (the choice rule and the baselines), ``simulate`` (the
frame-level two-stage pipeline), ``plot`` and ``cli`` (``refimpl adapt``).
"""
