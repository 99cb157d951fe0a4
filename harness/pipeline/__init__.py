"""One audit as a straight line of stages (``run_audit``)."""
