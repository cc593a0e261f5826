"""A child's height and weight as staff enter them, wherever they are entered (screening, the dose calculator)."""

from __future__ import annotations

# Plausibility limits of what can be entered, not protocol thresholds: they catch typing errors.
MAX_RECORDABLE_HEIGHT_CM = 250.0
MAX_RECORDABLE_WEIGHT_KG = 250.0
