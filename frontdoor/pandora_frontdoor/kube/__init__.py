"""The front door on Kubernetes: its connection to the API server, its five calls on ``Recording`` resources, and
``KubernetesRecordings``, which starts, stops and follows recordings through them."""
