"""What a planner reads: terminal tables, charts, exports and the feasibility appendix."""
