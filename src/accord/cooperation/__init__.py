"""Cooperation requests between parties. For now: drafts opened from a matching hit (issue 4, part 6); the
Convention-shaped forms, legal checks, state machines and deadlines come with the cooperation issue."""
