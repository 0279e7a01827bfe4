"""Import of a project data folder (CSV / XLSX) into the database, all or nothing."""

from gesprokit.importer.loader import import_folder, parse_folder

__all__ = ["import_folder", "parse_folder"]
