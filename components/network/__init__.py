"""Network: the VPC (created or existing) and the load balancer in front of the deploy target."""
