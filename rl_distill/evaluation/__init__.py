"""Episode returns on fixed seeds, comparison tables and plots."""
