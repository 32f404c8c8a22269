"""``pandora bot`` (one machine) and ``pandora frontdoor`` (Kubernetes)."""
