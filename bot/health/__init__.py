"""What ``/status`` reports: version, uptime, cache, hub health, jobs, feed lag."""
