"""Alerts: saved searches that fire on new and edited posts, and the notifications people read in the dashboard."""
