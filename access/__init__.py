"""Identity and access: who may do what, where.

Pure (no I/O, no clock), so the workflows' update validators can import it and reach
the same decisions as the REST API, the MCP tools, the UI and the CLI.
"""
