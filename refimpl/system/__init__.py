"""The system model of the edge device (the paper's section 4, Figs. 7-12).

One module a step, imported in this order (data flows one way):

  links     radio links as data (refimpl/links/*.toml): rate and transmit power
  stages    partition points of each network (host-only, stages, edge-only)
  ratios    ratio tables: bytes per frame of each point and codec (measured, paper, a file)
  pipeline  the two-stage pipeline per point: latency, throughput, energy breakdown;
            operating_points() for the adaptive controller
  fit       the second profile's unknowns fitted to the paper's four AlexNet headline ratios
  sweep     the figures as tables (CSV/JSON) and PNG plots
  cli       `refimpl system`
"""
