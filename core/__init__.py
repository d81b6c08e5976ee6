"""Shared foundations: domain types, configuration, errors, registries, logging."""
