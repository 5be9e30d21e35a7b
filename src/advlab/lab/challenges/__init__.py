"""The lab's challenges, one file each, found by the registry (no list to edit)."""
