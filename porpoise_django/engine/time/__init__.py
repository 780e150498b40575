"""Time: periods in any time zone, period strings, the slots writers use."""
