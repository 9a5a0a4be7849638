"""HTTP entry points: the XSP endpoint and, later, the guide and ON-API."""
