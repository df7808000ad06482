"""Delivery: source, artifacts, build, registry, image record and the pipeline that joins them."""
