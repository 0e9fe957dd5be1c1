"""Record-level returns: child-level files checked by DfE's rules and the figures derived from them."""
