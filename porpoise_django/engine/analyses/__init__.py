"""Analyses over the store: cohort tables, funnels, lifecycle, stickiness, decisions."""
