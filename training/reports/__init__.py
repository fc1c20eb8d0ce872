"""What a run writes for people: cards, pictures, the per-file table, the one metrics definition."""
