"""Readers and writers shared by every tool."""
