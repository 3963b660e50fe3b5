"""The canonical core: the state façade over the protobuf message, and its rules."""
