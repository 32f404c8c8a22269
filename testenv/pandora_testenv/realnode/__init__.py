"""Real pods beside the KWOK node: images, a containerd + kubelet node, and the Dapr control plane.

  buildah.py        buildah with the test environment's own image storage under <cache>/images
  base.py           the python:3.11-slim-bookworm base: pulled, or a local debootstrap stand-in
  context.py        what a Dockerfile build depends on, hashed (the image cache key)
  images.py         recorder, operator, pause and Dapr images, built and cached as OCI archives
  host.py           the bridge pod network on the host, and putting the host back as it was
  clusterdns.py     `<service>.<namespace>.svc.cluster.local` answered from the API server
  networkpolicy.py  kube-router's firewall: NetworkPolicy enforced on the real node
  node.py           containerd, kubelet, kube-proxy, that firewall and cluster DNS as one real node
  dapr.py           Dapr's control plane from Dapr's own chart, as pods on that node
  cluster.py        `pandora-testenv up --real-node [--dapr]` and `down`: all of the above in order
  files/            configuration templates and the pause program
"""
