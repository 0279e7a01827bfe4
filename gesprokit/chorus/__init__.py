"""Chorus Pro: billing files, structures, pre-deposit checker and the PISTE API client."""
