"""The domain: plain Python, no framework, no SQL, no I/O."""
