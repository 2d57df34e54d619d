"""Reads for HTTP and the console."""
