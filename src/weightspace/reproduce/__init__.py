"""Reproductions of the papers' tables and figures (``weightspace reproduce ...``)."""
