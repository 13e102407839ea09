"""Reusable Textual widgets: they only draw what they are given."""
