"""Triton glue: the base class of every operator model, the operator models, the embedded
server, and the pipeline (ensemble) tools."""
