"""A KO simulator for demos and tests: the direct-activation calls the guide makes (and, for the
service provider's agent, an ON-API orders endpoint). It stands in for a system outside
serviceguide, so it keeps its own state in memory and knows the demo networks' ports only."""
