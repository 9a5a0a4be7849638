"""Use cases. Each opens a unit of work, calls the domain and storage, and commits.

Everything that writes goes through here: the XSP API, the web pages and the CLI alike.
"""
