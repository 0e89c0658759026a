"""kommunesim: population and service-demand projections for Norwegian municipalities."""
