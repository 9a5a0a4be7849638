"""serviceguide: ordering services on Swedish open fibre networks."""

__version__ = "0.1.0"
