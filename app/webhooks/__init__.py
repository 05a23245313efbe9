"""Webhooks: events (new, edited and deleted posts, channels, jobs, accounts, alerts) pushed to other programs."""
