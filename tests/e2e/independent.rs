//! Placeholder: the independent-client test (written by a helper).
