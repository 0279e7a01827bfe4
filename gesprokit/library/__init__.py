"""The document library: identifiers, deposits and versions, rights, visas, meeting reports."""
