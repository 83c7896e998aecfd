"""The campaign transitions, one module per part of the loop."""
