"""Constructs with keyword-only typed props; stacks compose them."""
