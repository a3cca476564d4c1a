"""MCP servers as tools: configuration (no SDK import), the client hub, results.

Import :mod:`asynclm_tui.core.tools.mcp.hub` for the client; it loads the MCP
SDK only when servers start, on its own thread.
"""
