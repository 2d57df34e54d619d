"""The console's pure rules: who sees which dongs, KPI achievement, stale feeds, the dong
grid's colour scale. No I/O."""
