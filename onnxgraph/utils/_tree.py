"""Nested structures of tensors (lists, tuples, dicts) as layers take and return them."""

from __future__ import annotations

__all__ = ["flatten", "map_structure", "pack_like"]


def flatten(structure) -> list:
    if isinstance(structure, dict):
        return [x for key in structure for x in flatten(structure[key])]
    if isinstance(structure, (list, tuple)):
        return [x for item in structure for x in flatten(item)]
    return [structure]


def map_structure(fn, structure):
    if isinstance(structure, dict):
        return {key: map_structure(fn, value) for key, value in structure.items()}
    if isinstance(structure, (list, tuple)):
        mapped = [map_structure(fn, item) for item in structure]
        if isinstance(structure, list):
            return mapped
        return type(structure)(*mapped) if hasattr(structure, "_fields") else tuple(mapped)  # namedtuples
    return fn(structure)


def pack_like(structure, flat: list):
    """Rebuild `structure` with the leaves taken in order from `flat`."""
    if not isinstance(structure, (list, tuple, dict)):
        return flat[0]
    it = iter(flat)
    return map_structure(lambda _: next(it), structure)
