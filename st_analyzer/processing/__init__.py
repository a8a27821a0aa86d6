"""Processing provider and algorithms of st_analyzer."""
