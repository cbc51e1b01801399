"""The system model of the edge device (the paper's section 4, Figs. 7-12).

One module a step, imported in this order (data flows one way):

  links     radio links as data (refimpl/links/*.toml): rate and transmit power
  stages    partition points of each network (host-only, stages, edge-only)
  ratios    ratio tables: bytes per frame of each point and codec (measured, paper, a file)
  pipeline  the two-stage pipeline per point: latency, throughput, energy breakdown;
            operating_points() for the adaptive controller
  fit       the second profile's unknowns fitted to the paper's four AlexNet headline ratios
  sweep     the figures of section 4 and the paper's claims as rows (Figs. 7-12)
  report    tables, CSV and JSON of the records (units in the column names)
  plots     PNG plots that only read the sweep's rows (refimpl/plotting.py)
  cli       `refimpl system` (refimpl/cli.py calls its add_parser)
"""
